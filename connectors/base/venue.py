"""What every exchange venue implements.

A :class:`Venue` knows the exchange's wire protocol and nothing about Kafka,
reconnects or gaps: it names the streams of a symbol, builds subscribe
messages, decodes one frame into scanflow records, and builds a ccxt client
for REST. The :class:`~connectors.base.connector.Connector` calls it. Methods
are synchronous and must not do I/O (except :meth:`ccxt_exchange`, which only
constructs a client; ccxt connects lazily).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from streams.records import RecordError

if TYPE_CHECKING:
    import ccxt.async_support as ccxt_async


@dataclass(frozen=True)
class VenueLimits:
    """The exchange's documented websocket limits (cite the doc in the venue's config)."""

    streams_per_connection: int
    #: Messages the client may send per second on one connection (subscribe, unsubscribe, app pings).
    client_msgs_per_second: float
    #: Stream names per SUBSCRIBE message.
    streams_per_subscribe: int
    #: New connections allowed per ``connection_window_s`` (per IP).
    connections_per_window: int
    connection_window_s: float
    #: The exchange drops a connection after this long; we rotate before.
    connection_lifetime_s: float
    #: Rotate this long before the forced disconnect.
    rotate_margin_s: float = 600.0
    #: No frame for this long means the stream is stale: reconnect.
    stale_after_s: float = 30.0


@dataclass(frozen=True)
class VenueConfig:
    """Per-venue settings, read once (from ``SCANFLOW_<VENUE>_WS_URL`` etc.) and passed in."""

    ws_url: str
    rest_url: str
    #: Channels to stream per symbol: any of "kline", "trades", "quotes", "funding".
    channels: tuple[str, ...] = ("kline", "trades", "quotes")
    #: Overrides of ``Venue.default_extra_ws_urls`` by URL key (``SCANFLOW_<VENUE>_<KEY>_WS_URL``).
    extra_ws_urls: dict[str, str] = field(default_factory=dict, hash=False)


class Venue(ABC):
    """One exchange market (e.g. Binance USDⓈ-M). Subclass, fill the class
    attributes, implement the abstract methods, add one line to
    ``connectors.registry``."""

    #: Registry name used on the command line, e.g. ``binance-usdm``.
    name: ClassVar[str]
    #: ``exchange`` and ``market`` fields of every record.
    exchange: ClassVar[str]
    market: ClassVar[str]
    #: ccxt exchange id for REST (markets, tickers, OHLCV).
    ccxt_id: ClassVar[str]
    #: Environment prefix: ``SCANFLOW_<env_name>_WS_URL`` / ``_REST_URL``.
    env_name: ClassVar[str]
    default_ws_url: ClassVar[str]
    default_rest_url: ClassVar[str]
    limits: ClassVar[VenueLimits]
    #: The exchange marks a kline final (Binance ``x``). If False the connector
    #: infers closure when the next candle opens (see ``connectors.base.candles``).
    kline_closes_by_flag: ClassVar[bool] = True
    #: Trade ids grow monotonically per symbol: the connector drops repeats
    #: (they occur while a rotated connection overlaps its replacement).
    monotonic_trade_ids: ClassVar[bool] = False
    #: Websocket protocol ping interval (seconds) the client sends; None: rely on the server's.
    ws_ping_interval_s: ClassVar[float | None] = 20.0
    #: Application-level ping period (for venues that want a JSON ping); None: none.
    app_ping_interval_s: ClassVar[float | None] = None
    #: Venues whose streams live on several endpoints (OKX: candles on
    #: ``/ws/v5/business``, the rest on ``/ws/v5/public``): URL key -> default URL
    #: of every endpoint besides ``ws_url``; :meth:`url_key` sorts streams.
    default_extra_ws_urls: ClassVar[dict[str, str]] = {}
    #: URL key of the connections carrying klines: only their reconnects backfill candles.
    kline_url_key: ClassVar[str] = ""

    def __init__(self, config: VenueConfig | None = None) -> None:
        self.config = config or VenueConfig(self.default_ws_url, self.default_rest_url)
        self._native: dict[str, str] = {}
        self._unified: dict[str, str] = {}

    # ---- symbols -------------------------------------------------------
    def set_symbol_map(self, unified_to_native: dict[str, str]) -> None:
        """Called by the connector after loading markets (ccxt ``market['id']``)."""
        self._native = dict(unified_to_native)
        self._unified = {v: k for k, v in self._native.items()}

    def native_id(self, symbol: str) -> str:
        native = self._native.get(symbol)
        if native is None:
            native = self.default_native_id(symbol)
            self._native[symbol] = native
            self._unified[native] = symbol
        return native

    def unified_symbol(self, native: str) -> str | None:
        """Unified symbol of an exchange id, or None if it is not one we stream."""
        return self._unified.get(native)

    def subscribed_symbol(self, native: str, stream: str) -> str:
        """Unified symbol of an exchange id in a frame of ``stream``; a symbol we do
        not stream is bad input (``unknown_symbol``), reported with the stream."""
        symbol = self._unified.get(native)
        if symbol is None:
            raise RecordError("unknown_symbol", f"{self.name} {stream}: symbol {native!r} is not subscribed")
        return symbol

    def market_symbol(self, market: dict[str, Any]) -> str | None:
        """Scanflow symbol (``BASE/QUOTE``) of a ccxt market if it belongs to this
        venue's market type, else None. Called when building the universe."""
        if market.get("active") is not False and self.accepts_market(market):
            return f"{market['base']}/{market['quote']}"
        return None

    # ---- required ------------------------------------------------------
    @abstractmethod
    def accepts_market(self, market: dict[str, Any]) -> bool:
        """Does this ccxt market (``exchange.markets[...]``) belong to this venue?"""

    @abstractmethod
    def default_native_id(self, symbol: str) -> str:
        """Exchange id of ``BASE/QUOTE`` when markets were not loaded (tests, replays)."""

    @abstractmethod
    def streams_for(self, symbol: str) -> list[str]:
        """Stream names for one symbol; they always share a connection."""

    @abstractmethod
    def connect_url(self) -> str:
        """Websocket URL of a new connection (streams are added by subscribe messages)."""

    @abstractmethod
    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        """Frames that subscribe ``streams``; at most ``limits.streams_per_subscribe`` each.
        ``request_id`` numbers the first message; use consecutive ids."""

    @abstractmethod
    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        """Frames that unsubscribe ``streams``."""

    @abstractmethod
    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        """Decode one frame into records: closed :class:`Candle` s (only closed
        ones when ``kline_closes_by_flag``; every update otherwise), :class:`Tick`,
        :class:`Quote`, :class:`~streams.records.FundingRate`,
        :class:`~connectors.records.SubscribeAck`. An empty list for frames that
        carry nothing to publish. Raise :class:`RecordError` for malformed or
        unexpected frames (the connector dead-letters them and carries on)."""

    @abstractmethod
    def ccxt_exchange(self) -> ccxt_async.Exchange:
        """A ccxt async client pointed at ``self.config.rest_url``."""

    # ---- optional ------------------------------------------------------
    async def resolve_connect_url(self) -> str:
        """URL of a new connection, called before every connect. Venues whose
        endpoint needs a REST call first (KuCoin's ``bullet-public`` token)
        override this; failures must raise ``OSError`` (e.g. ``ConnectionError``)
        so the connection backs off and retries like any failed connect."""
        return self.connect_url()

    def url_key(self, stream: str) -> str:
        """Which endpoint serves ``stream``: "" for ``config.ws_url`` (every stream of
        a single-URL venue), else a key of ``default_extra_ws_urls``. A connection
        carries streams of one key only (the connector shards per key)."""
        return ""

    def extra_ws_url(self, url_key: str) -> str:
        """URL of a new connection for the streams of ``url_key`` (the setting, else the default)."""
        url = self.config.extra_ws_urls.get(url_key) or self.default_extra_ws_urls.get(url_key)
        if not url:
            raise ValueError(f"{self.name}: no websocket URL for key {url_key!r}")
        return url

    def app_ping_message(self) -> str | None:
        """JSON ping for venues with application-level keepalive (Bybit, OKX)."""
        return None

    def is_app_pong(self, frame: str | bytes) -> bool:
        """True for the venue's application-level pong (consumed silently)."""
        return False
