"""OKX v5 venues: channel args, ``op: subscribe`` requests, frame decoding, ccxt client.

OKX serves candles on ``/ws/v5/business`` and everything else on
``/ws/v5/public``; a stream is ``<channel>:<instId>`` and :meth:`url_key`
sends candle streams to the ``business`` endpoint, so the connector shards
each endpoint separately (``SCANFLOW_OKX_WS_URL`` / ``SCANFLOW_OKX_BUSINESS_WS_URL``
override them). Requests are ``{"op": "subscribe", "args": [{"channel",
"instId"}, ...]}``; OKX answers each arg with ``{"event": "subscribe", "arg":
{...}}`` or the request with ``{"event": "error", "code", "msg"}``. Keepalive is
the text ``ping`` (answer ``pong``); OKX cuts a connection silent for 30 s.

Streams per symbol:

* ``candle1m`` — 1m candle; ``confirm`` "1" marks the closed candle (only those
  are published);
* ``trades`` — trades (``tradeId`` grows per instrument);
* ``tickers`` — best bid/ask: pushed at most every 100 ms, so a top-200
  universe costs a bounded frame rate (``bbo-tbt`` pushes every book change,
  up to every 10 ms, far more frames than a 1m scanner uses), and its layout
  is covered by real captured frames;
* swap only: ``funding-rate`` (every 30-90 s) and ``mark-price`` (every 200 ms
  on change) merged per instrument into ``md.funding``; ``open-interest``
  (every 3 s on change) to ``md.open_interest``.

SWAP sizes are in contracts: ticks and quotes are converted to base currency
with the contract value ccxt reports (``contractSize``, OKX ``ctVal``), learnt
when markets load; a swap frame of an instrument whose contract value is not
known is dead-lettered (``unknown_contract_size``) rather than published in
the wrong unit.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, ClassVar

import msgspec

from connectors.base.venue import Venue, VenueConfig, VenueLimits
from connectors.okx import config, parse
from connectors.okx.schemas import (
    OkxCandle,
    OkxFrame,
    OkxFundingRate,
    OkxMarkPrice,
    OkxOpenInterest,
    OkxTicker,
    OkxTrade,
)
from connectors.records import SubscribeAck
from streams.records import RecordError

log = logging.getLogger("scanflow.connectors")

_frame = msgspec.json.Decoder(OkxFrame)
_rows = msgspec.json.Decoder(list[list[str]])
_trades = msgspec.json.Decoder(list[OkxTrade])
_tickers = msgspec.json.Decoder(list[OkxTicker])
_fundings = msgspec.json.Decoder(list[OkxFundingRate])
_marks = msgspec.json.Decoder(list[OkxMarkPrice])
_open_interest = msgspec.json.Decoder(list[OkxOpenInterest])

CANDLE = "candle1m"
BUSINESS = "business"
_PONG = ("pong", b"pong")


class _OkxVenue(Venue):
    exchange: ClassVar[str] = "okx"
    ccxt_id: ClassVar[str] = "okx"
    #: One prefix for both venues: OKX serves spot and swaps on the same hosts.
    env_name: ClassVar[str] = "OKX"
    default_ws_url: ClassVar[str] = config.PUBLIC_WS_URL
    default_rest_url: ClassVar[str] = config.REST_URL
    default_extra_ws_urls: ClassVar[dict[str, str]] = {BUSINESS: config.BUSINESS_WS_URL}
    kline_url_key: ClassVar[str] = BUSINESS
    limits: ClassVar[VenueLimits] = config.LIMITS
    monotonic_trade_ids: ClassVar[bool] = True
    ws_ping_interval_s: ClassVar[float | None] = None  # OKX wants its text ping, not protocol pings
    app_ping_interval_s: ClassVar[float | None] = config.PING_INTERVAL_S
    #: scanflow channel -> OKX channels (a stream is ``<okx channel>:<instId>``)
    channel_names: ClassVar[dict[str, tuple[str, ...]]]
    #: SWAP sizes are in contracts
    contracts: ClassVar[bool] = False

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config)
        self._okx_channels = {c for names in self.channel_names.values() for c in names}
        self._contract_size: dict[str, float] = {}
        # latest mark price and (funding rate, settlement time) per instId, merged into FundingRate
        self._mark: dict[str, str] = {}
        self._funding: dict[str, tuple[float, int]] = {}

    # ---- symbols and streams ----------------------------------------------
    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        return f"{base}-{quote}{'-SWAP' if self.contracts else ''}".upper()

    def streams_for(self, symbol: str) -> list[str]:
        native = self.native_id(symbol)
        out = []
        for channel in self.config.channels:
            names = self.channel_names.get(channel)
            if names is None:
                raise ValueError(f"{self.name}: channel {channel!r} is not one of {sorted(self.channel_names)}")
            out += [f"{name}:{native}" for name in names]
        return out

    def url_key(self, stream: str) -> str:
        return BUSINESS if stream.startswith(CANDLE) else ""

    def connect_url(self) -> str:
        return self.config.ws_url

    def _requests(self, op: str, streams: list[str]) -> list[str]:
        args = []
        for stream in streams:
            channel, sep, inst = stream.partition(":")
            if not sep or not inst:
                raise ValueError(f"{self.name}: stream {stream!r} is not <channel>:<instId>")
            args.append({"channel": channel, "instId": inst})
        size = self.limits.streams_per_subscribe
        return [msgspec.json.encode({"op": op, "args": args[i:i + size]}).decode() for i in range(0, len(args), size)]

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        # OKX acknowledges each arg by echoing it, not by a request id: none is sent.
        return self._requests("subscribe", streams)

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        for stream in streams:  # forget merged state of instruments we stop streaming
            channel, _, inst = stream.partition(":")
            if channel == "mark-price":
                self._mark.pop(inst, None)
            elif channel == "funding-rate":
                self._funding.pop(inst, None)
        return self._requests("unsubscribe", streams)

    def app_ping_message(self) -> str | None:
        return "ping"

    def is_app_pong(self, frame: str | bytes) -> bool:
        return frame in _PONG

    # ---- frames --------------------------------------------------------------
    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        if frame in _PONG:
            return []
        try:
            env = _frame.decode(frame)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        if env.event is not None:
            return self._event(env)
        if env.arg is None or not env.data:
            raise RecordError("unexpected_frame", f"{self.name}: neither a channel push nor an event")
        channel, inst = env.arg.channel, env.arg.instId or ""
        stream = f"{channel}:{inst}"
        if channel not in self._okx_channels:
            raise RecordError("unexpected_stream", f"{self.name}: channel {channel!r} ({inst}) is not one we decode")
        try:
            return self._push(channel, inst, stream, env.data, received_at)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name} {stream}: {exc}") from None

    def _event(self, env: OkxFrame) -> list[msgspec.Struct]:
        if env.event in ("subscribe", "unsubscribe"):
            return [SubscribeAck(None)]
        if env.event == "error":
            return [SubscribeAck(None, ok=False, detail=f"code {env.code}: {env.msg}")]
        if env.event == "notice":  # e.g. 64008: closing soon for a service upgrade; the reconnect backfills
            log.warning("%s: OKX notice code %s: %s", self.name, env.code, env.msg)
            return []
        raise RecordError("unexpected_frame", f"{self.name}: event {env.event!r}")

    def _contract_size_of(self, inst: str, stream: str) -> float:
        if not self.contracts:
            return 1.0
        size = self._contract_size.get(inst)
        if size is None:
            raise RecordError("unknown_contract_size", f"{self.name} {stream}: contract value of {inst} is unknown "
                                                       "(not in the loaded markets)")
        return size

    def _push(self, channel: str, inst: str, stream: str, data: msgspec.Raw, received_at: int) -> list[msgspec.Struct]:
        ex, mk = self.exchange, self.market
        out: list[msgspec.Struct] = []
        if channel == CANDLE:
            symbol = self.subscribed_symbol(inst, stream)
            for row in _rows.decode(data):
                if len(row) < 9:
                    raise RecordError("schema_mismatch", f"{self.name} {stream}: candle row of {len(row)} fields, "
                                                         "expected [ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]")
                k = OkxCandle(*row[:9])
                if k.confirm == "1":
                    out.append(parse.parse_candle_to_candle(k, symbol, ex, mk, received_at, contracts=self.contracts))
                elif k.confirm != "0":
                    raise RecordError("schema_mismatch", f"{self.name} {stream}: confirm={k.confirm!r}", field="confirm")
            return out
        if channel == "trades":
            for t in _trades.decode(data):
                symbol = self.subscribed_symbol(t.instId, stream)
                out.append(parse.parse_trade_to_tick(t, symbol, ex, mk, received_at,
                                                     self._contract_size_of(t.instId, stream)))
            return out
        if channel == "tickers":
            for q in _tickers.decode(data):
                symbol = self.subscribed_symbol(q.instId, stream)
                if q.bidPx and q.askPx:  # an empty side has no best price: no two-sided quote
                    out.append(parse.parse_ticker_to_quote(q, symbol, ex, mk, received_at,
                                                           self._contract_size_of(q.instId, stream)))
            return out
        if channel == "mark-price":
            for m in _marks.decode(data):
                symbol = self.subscribed_symbol(m.instId, stream)
                out.append(parse.parse_mark_to_funding(m.markPx, self._funding.get(m.instId), symbol, ex, mk,
                                                       parse.ms(m.ts, "ts", symbol), received_at))
                self._mark[m.instId] = m.markPx
            return out
        if channel == "funding-rate":
            for f in _fundings.decode(data):
                symbol = self.subscribed_symbol(f.instId, stream)
                funding = self._funding[f.instId] = parse.funding_of(f, symbol)
                mark = self._mark.get(f.instId)
                if mark is not None:  # else merged into the next mark-price push
                    out.append(parse.parse_mark_to_funding(mark, funding, symbol, ex, mk, parse.ms(f.ts, "ts", symbol),
                                                           received_at))
            return out
        if channel == "open-interest":
            return [parse.parse_open_interest_to_open_interest(o, self.subscribed_symbol(o.instId, stream), ex, mk,
                                                               received_at) for o in _open_interest.decode(data)]
        raise RecordError("unexpected_stream", f"{self.name}: channel {channel!r} is not one we decode")

    # ---- REST --------------------------------------------------------------
    def ccxt_exchange(self) -> Any:
        exchange = _ccxt_okx()({"enableRateLimit": True})
        exchange.urls["api"] = {"rest": self.config.rest_url.rstrip("/")}
        kind = "swap" if self.contracts else "spot"
        exchange.options["fetchMarkets"] = {"types": [kind]}
        exchange.options["defaultType"] = kind
        return exchange


@cache
def _ccxt_okx() -> type:
    """ccxt's okx with two fixes for a scanner (built on first use: no ccxt import at module import):

    * ``fetch_ohlcv`` pages by 300 (OKX's per-call cap) up to ``limit``, so
      a backfill of more than 300 minutes is one call for the connector;
    * SWAP tickers get ``baseVolume``/``quoteVolume`` from ``volCcy24h``
      (base currency): ccxt reports ``vol24h`` (contracts) and no quote volume,
      which would rank the universe by contract counts."""
    import ccxt.async_support as ccxt_async

    class OkxRest(ccxt_async.okx):
        async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: int | None = None,
                              limit: int | None = None, params: dict[str, Any] | None = None) -> list[list[Any]]:
            params = params or {}
            if since is None or limit is None or limit <= config.CANDLES_PER_CALL or params:
                return await super().fetch_ohlcv(symbol, timeframe, since, limit, params)
            step = self.parse_timeframe(timeframe) * 1000
            out: list[list[Any]] = []
            while len(out) < limit:
                want = min(config.CANDLES_PER_CALL, limit - len(out))
                page = await super().fetch_ohlcv(symbol, timeframe, since, want, {})
                fresh = [row for row in page if row[0] >= since]
                out += fresh
                if len(page) < want or not fresh:
                    break
                since = fresh[-1][0] + step
            return out

        def parse_ticker(self, ticker: dict[str, Any], market: Any = None) -> Any:
            out = super().parse_ticker(ticker, market)
            base = self.safe_number(ticker, "volCcy24h")
            if ticker.get("instType") == "SWAP" and base is not None and out.get("last") is not None:
                out["baseVolume"] = base
                out["quoteVolume"] = base * out["last"]
            return out

    return OkxRest


class OkxSpotVenue(_OkxVenue):
    name: ClassVar[str] = "okx-spot"
    market: ClassVar[str] = "spot"
    channel_names: ClassVar[dict[str, tuple[str, ...]]] = {
        "kline": (CANDLE,), "trades": ("trades",), "quotes": ("tickers",)}

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))


class OkxSwapVenue(_OkxVenue):
    """USDT/USDC-margined perpetual swaps (``BTC-USDT-SWAP``)."""

    name: ClassVar[str] = "okx-swap"
    market: ClassVar[str] = "linear"
    contracts: ClassVar[bool] = True
    channel_names: ClassVar[dict[str, tuple[str, ...]]] = {
        "kline": (CANDLE,), "trades": ("trades",), "quotes": ("tickers",),
        "funding": ("funding-rate", "mark-price", "open-interest")}

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config or VenueConfig(self.default_ws_url, self.default_rest_url,
                                               channels=("kline", "trades", "quotes", "funding")))

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("swap")) and bool(market.get("linear"))

    def market_symbol(self, market: dict[str, Any]) -> str | None:
        """As the base class; also remembers the contract value of each swap we may stream."""
        symbol = super().market_symbol(market)
        size = market.get("contractSize")
        if symbol is not None and size:
            self._contract_size[market["id"]] = float(size)
        return symbol

    def set_contract_sizes(self, sizes: dict[str, float]) -> None:
        """Contract values by instId (``ctVal``) when markets are not loaded (tests, benchmarks)."""
        self._contract_size.update(sizes)
