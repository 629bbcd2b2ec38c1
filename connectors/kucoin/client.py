"""KuCoin venues: bullet token, topic subscriptions, frame decoding, ccxt client.

Connecting takes a REST call: ``POST <rest>/api/v1/bullet-public`` gives a
token and the websocket endpoint (:meth:`resolve_connect_url`, run before
every connect). Streams are KuCoin topics of one symbol, e.g.
``/market/candles:BTC-USDT_1min``; a subscribe message joins the symbols of one
topic kind with commas (``/market/match:BTC-USDT,ETH-USDT``), at most
``limits.streams_per_subscribe`` of them, and asks for an ``ack``.

KuCoin klines carry no close flag: a window is closed when the next window of
the same symbol starts (:class:`connectors.base.candles.KlineCloser`). Every
(re)subscription forgets the pending window of its symbols, so a window seen
across a disconnect is never published from the websocket; the reconnect
backfill fetches it over REST.

Futures sizes are contracts on the wire; every record carries base currency
(``connectors.base.units``): each contract's ``multiplier`` (ccxt's
``contractSize``) is learnt when markets load, a frame of a contract whose
size is unknown is dead-lettered (``unknown_contract_size``), and the ccxt
client converts REST candle volumes with the same function.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from typing import Any, ClassVar

import msgspec

from connectors.base.candles import KlineCloser
from connectors.base.units import ContractSizedVenue, ccxt_with_base_volume
from connectors.base.venue import Venue, VenueConfig, VenueLimits
from connectors.kucoin import config, parse
from connectors.kucoin.schemas import (
    KucoinCandles,
    KucoinFrame,
    KucoinFuturesExecution,
    KucoinFuturesTickerV2,
    KucoinInstrument,
    KucoinSpotMatch,
    KucoinSpotTicker,
)
from connectors.records import SubscribeAck
from streams.records import Candle, RecordError

_frame = msgspec.json.Decoder(KucoinFrame)
_candles = msgspec.json.Decoder(KucoinCandles)
_spot_match = msgspec.json.Decoder(KucoinSpotMatch)
_spot_ticker = msgspec.json.Decoder(KucoinSpotTicker)
_execution = msgspec.json.Decoder(KucoinFuturesExecution)
_ticker_v2 = msgspec.json.Decoder(KucoinFuturesTickerV2)
_instrument = msgspec.json.Decoder(KucoinInstrument)


class _BulletServer(msgspec.Struct):
    endpoint: str
    pingInterval: int = 18000


class _BulletData(msgspec.Struct):
    token: str
    instanceServers: list[_BulletServer]


class _BulletResponse(msgspec.Struct):
    """``POST /api/v1/bullet-public``: ``{"code": "200000", "data": {"token", "instanceServers"}}``."""

    code: str
    data: _BulletData | None = None
    msg: str | None = None


class _KucoinVenue(Venue):
    exchange: ClassVar[str] = "kucoin"
    default_ws_url: ClassVar[str] = config.BULLET_ENDPOINT
    # KuCoin wants its JSON ping; protocol pings are not required.
    ws_ping_interval_s: ClassVar[float | None] = None
    app_ping_interval_s: ClassVar[float | None] = config.PING_INTERVAL_S
    #: KuCoin's published trade ids are not guaranteed numeric on every market.
    monotonic_trade_ids: ClassVar[bool] = False
    #: klines carry no close flag: a window closes when the next one starts
    kline_closes_by_flag: ClassVar[bool] = False
    #: registry channel -> topic prefix; the kline topic's argument gets ``_1min``.
    topics: ClassVar[dict[str, str]]
    kline_prefix: ClassVar[str]

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config)
        self._closer: KlineCloser[Candle] = KlineCloser()
        self._ping_id = 0
        self._last_url: str | None = None

    # ---- symbols and streams ------------------------------------------------
    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        return f"{base}-{quote}".upper()

    def streams_for(self, symbol: str) -> list[str]:
        native = self.native_id(symbol)
        out = []
        for channel in self.config.channels:
            prefix = self.topics.get(channel)
            if prefix is None:
                raise ValueError(f"{self.name}: channel {channel!r} is not one of {sorted(self.topics)}")
            out.append(f"{prefix}:{native}_1min" if prefix == self.kline_prefix else f"{prefix}:{native}")
        return out

    # ---- connecting ---------------------------------------------------------
    def connect_url(self) -> str:
        """The last URL :meth:`resolve_connect_url` built (KuCoin needs a fresh token per connect)."""
        return self._last_url or self.config.ws_url

    async def resolve_connect_url(self) -> str:
        import httpx

        url = self.config.rest_url.rstrip("/") + "/api/v1/bullet-public"
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                resp = await client.post(url)
            body = msgspec.json.decode(resp.content, type=_BulletResponse)
        except (httpx.HTTPError, msgspec.DecodeError) as exc:
            raise ConnectionError(f"{self.name}: bullet-public at {url} failed: {type(exc).__name__}: {exc}") from None
        if body.code != "200000" or body.data is None or not body.data.instanceServers:
            raise ConnectionError(f"{self.name}: bullet-public at {url} answered code {body.code}: {body.msg}")
        endpoint = body.data.instanceServers[0].endpoint
        if self.config.ws_url != config.BULLET_ENDPOINT:
            endpoint = self.config.ws_url  # SCANFLOW_<ENV>_WS_URL overrides the announced endpoint
        sep = "&" if "?" in endpoint else "?"
        self._last_url = f"{endpoint}{sep}token={body.data.token}&connectId={uuid.uuid4().hex}"
        return self._last_url

    def app_ping_message(self) -> str | None:
        self._ping_id += 1
        return msgspec.json.encode({"id": str(self._ping_id), "type": "ping"}).decode()

    def is_app_pong(self, frame: str | bytes) -> bool:
        return b'"pong"' in (frame.encode() if isinstance(frame, str) else frame)

    # ---- subscriptions --------------------------------------------------------
    def _symbols_of(self, streams: list[str]) -> list[str]:
        out = []
        for stream in streams:
            prefix, _, arg = stream.partition(":")
            native = arg.rpartition("_")[0] if prefix == self.kline_prefix else arg
            sym = self._unified.get(native)
            if sym is not None:
                out.append(sym)
        return out

    def _requests(self, kind: str, streams: list[str], request_id: int) -> list[str]:
        # A (re)subscription may follow a hole in the stream: never infer a close across it.
        self._closer.forget(self._symbols_of(streams))
        by_prefix: dict[str, list[str]] = {}
        for stream in streams:
            prefix, sep, arg = stream.partition(":")
            if not sep or not arg:
                raise ValueError(f"{self.name}: stream {stream!r} is not <topic>:<symbol>")
            by_prefix.setdefault(prefix, []).append(arg)
        size = self.limits.streams_per_subscribe
        topics = [f"{prefix}:{','.join(args[i:i + size])}"
                  for prefix, args in by_prefix.items() for i in range(0, len(args), size)]
        return [msgspec.json.encode({"id": str(request_id + n), "type": kind, "topic": topic,
                                     "privateChannel": False, "response": True}).decode()
                for n, topic in enumerate(topics)]

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("subscribe", streams, request_id)

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("unsubscribe", streams, request_id)

    # ---- frames -----------------------------------------------------------------

    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        try:
            env = _frame.decode(frame)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        if env.type in ("welcome", "pong"):
            return []
        if env.type == "ack":
            return [SubscribeAck(_request_id(env.id))]
        if env.type == "error":
            detail = f"code {env.code}: {bytes(env.data).decode(errors='replace') if env.data else ''}"
            if env.id is None:
                raise RecordError("exchange_error", f"{self.name}: {detail}")
            return [SubscribeAck(_request_id(env.id), ok=False, detail=detail)]
        if env.type != "message" or env.topic is None or not env.data:
            raise RecordError("unexpected_frame", f"{self.name}: type {env.type!r}")
        try:
            return self._parse_message(env, received_at)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name} {env.topic}: {exc}") from None

    def _parse_candles(self, env: KucoinFrame, received_at: int) -> list[msgspec.Struct]:
        k = _candles.decode(env.data)
        topic = env.topic or ""
        if not topic.endswith("_1min"):
            raise RecordError("unexpected_interval", f"{self.name}: topic {topic!r}, only 1min is streamed")
        symbol = self.subscribed_symbol(k.symbol, topic)
        candle = parse.parse_candles_to_candle(k, symbol, self.exchange, self.market, received_at,
                                               self.contract_size(k.symbol, topic))
        closed = self._closer.update(symbol, candle.open_time, candle)
        return [closed] if closed is not None else []

    def contract_size(self, native: str, stream: str) -> float:
        """Base units per contract of ``native`` (1 on spot: sizes are base already)."""
        return 1.0

    @abstractmethod
    def _parse_message(self, env: KucoinFrame, received_at: int) -> list[msgspec.Struct]:
        """Records of one ``message`` frame (spot and futures topics differ)."""

    def _ccxt(self, cls_name: str, types: list[str]) -> Any:
        import ccxt.async_support as ccxt_async

        exchange = ccxt_with_base_volume(getattr(ccxt_async, cls_name))({"enableRateLimit": True})
        rest = self.config.rest_url.rstrip("/")
        exchange.urls["api"] = dict.fromkeys(exchange.urls["api"], rest)
        exchange.options["fetchMarkets"] = {"types": types, "fetchTickersFees": False}
        exchange.has = dict(exchange.has) | {"fetchCurrencies": False}  # currencies need no REST call here
        return exchange


def _request_id(raw: str | int | None) -> int | str | None:
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    return raw


class KucoinSpotVenue(_KucoinVenue):
    name: ClassVar[str] = "kucoin-spot"
    market: ClassVar[str] = "spot"
    ccxt_id: ClassVar[str] = "kucoin"
    env_name: ClassVar[str] = "KUCOIN"
    default_rest_url: ClassVar[str] = config.SPOT_REST_URL
    limits: ClassVar[VenueLimits] = config.SPOT_LIMITS
    kline_prefix: ClassVar[str] = "/market/candles"
    topics: ClassVar[dict[str, str]] = {"kline": "/market/candles", "trades": "/market/match",
                                        "quotes": "/market/ticker"}

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))

    def _parse_message(self, env: KucoinFrame, received_at: int) -> list[msgspec.Struct]:
        topic = env.topic or ""
        prefix, _, native = topic.partition(":")
        if prefix == "/market/candles":
            return self._parse_candles(env, received_at)
        if prefix == "/market/match":
            t = _spot_match.decode(env.data)
            return [parse.parse_spot_match_to_tick(t, self.subscribed_symbol(t.symbol, topic), self.exchange, self.market,
                                                   received_at)]
        if prefix == "/market/ticker":
            q = _spot_ticker.decode(env.data)
            return [parse.parse_spot_ticker_to_quote(q, self.subscribed_symbol(native, topic), self.exchange, self.market,
                                                     received_at)]
        raise RecordError("unexpected_stream", f"{self.name}: topic {topic!r} is not one we decode")

    def ccxt_exchange(self) -> Any:
        return self._ccxt("kucoin", ["spot"])


class KucoinFuturesVenue(ContractSizedVenue, _KucoinVenue):
    """USDT-margined perpetual contracts (``XBTUSDTM``...)."""

    name: ClassVar[str] = "kucoin-futures"
    market: ClassVar[str] = "linear"
    ccxt_id: ClassVar[str] = "kucoinfutures"
    env_name: ClassVar[str] = "KUCOIN_FUTURES"
    default_rest_url: ClassVar[str] = config.FUTURES_REST_URL
    limits: ClassVar[VenueLimits] = config.FUTURES_LIMITS
    kline_prefix: ClassVar[str] = "/contractMarket/limitCandle"
    topics: ClassVar[dict[str, str]] = {"kline": "/contractMarket/limitCandle", "trades": "/contractMarket/execution",
                                        "quotes": "/contractMarket/tickerV2", "funding": "/contract/instrument"}

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config or VenueConfig(self.default_ws_url, self.default_rest_url,
                                               channels=("kline", "trades", "quotes", "funding")))
        #: native -> (mark price, index price, funding rate): the instrument topic sends them apart.
        self._instrument: dict[str, tuple[float | None, float | None, float | None]] = {}

    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        base = "XBT" if base.upper() == "BTC" else base
        return f"{base}{quote}M".upper()

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("swap")) and bool(market.get("linear"))

    def _parse_message(self, env: KucoinFrame, received_at: int) -> list[msgspec.Struct]:
        topic = env.topic or ""
        prefix, _, native = topic.partition(":")
        if prefix == "/contractMarket/limitCandle":
            return self._parse_candles(env, received_at)
        if prefix == "/contractMarket/execution":
            t = _execution.decode(env.data)
            return [parse.parse_futures_execution_to_tick(t, self.subscribed_symbol(t.symbol, topic), self.exchange,
                                                          self.market, received_at, self.contract_size(t.symbol, topic))]
        if prefix == "/contractMarket/tickerV2":
            q = _ticker_v2.decode(env.data)
            return [parse.parse_futures_ticker_to_quote(q, self.subscribed_symbol(q.symbol, topic), self.exchange,
                                                        self.market, received_at, self.contract_size(q.symbol, topic))]
        if prefix == "/contract/instrument":
            symbol = self.subscribed_symbol(native, topic)
            msg = _instrument.decode(env.data)
            mark, index, rate = self._instrument.get(native, (None, None, None))
            if env.subject == "mark.index.price":
                if msg.markPrice is None:
                    raise RecordError("missing_field", f"{symbol}: mark.index.price without markPrice", field="markPrice")
                mark, index = msg.markPrice, msg.indexPrice
            elif env.subject == "funding.rate":
                if msg.fundingRate is None:
                    raise RecordError("missing_field", f"{symbol}: funding.rate without fundingRate", field="fundingRate")
                rate = msg.fundingRate
            else:
                raise RecordError("unexpected_stream", f"{self.name}: {topic} subject {env.subject!r}")
            self._instrument[native] = (mark, index, rate)
            if mark is None:
                return []  # funding before any mark price: merged into the next mark push
            return [parse.parse_instrument_to_funding(symbol, self.exchange, self.market, mark, index, rate,
                                                      msg.timestamp, received_at)]
        raise RecordError("unexpected_stream", f"{self.name}: topic {topic!r} is not one we decode")

    def ccxt_exchange(self) -> Any:
        return self._ccxt("kucoinfutures", ["swap"])
