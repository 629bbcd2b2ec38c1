"""Bybit v5 venues: topic names, ``op: subscribe`` requests, frame decoding, ccxt client.

One connection per shard to ``wss://stream.bybit.com/v5/public/{spot,linear}``;
topics are added and removed with ``{"op": "subscribe", "args": [...],
"req_id": "n"}`` (at most 10 args each), answered by ``{"success": true,
"ret_msg": ..., "req_id": "n", "op": "subscribe"}``. Keepalive is the JSON
``{"op": "ping"}`` every 20 s. Streams per symbol:

* ``kline.1.<SYM>`` — 1m candle; ``confirm: true`` marks the closing push;
* ``publicTrade.<SYM>`` — trades (a list per push);
* ``orderbook.1.<SYM>`` — level 1 book: best bid/ask (a snapshot, then
  deltas that we apply to the kept best levels);
* ``tickers.<SYM>`` (linear) — mark/index price, funding rate and open
  interest (a snapshot, then deltas carrying only changed fields, merged here).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from connectors.base.venue import Venue, VenueConfig, VenueLimits
from connectors.bybit import config, parse
from connectors.bybit.schemas import BybitFrame, BybitKline, BybitOrderbook, BybitTicker, BybitTrade
from connectors.records import SubscribeAck
from streams.records import RecordError

_frame_decoder = msgspec.json.Decoder(BybitFrame)
_klines = msgspec.json.Decoder(list[BybitKline])
_trades = msgspec.json.Decoder(list[BybitTrade])
_book = msgspec.json.Decoder(BybitOrderbook)
_ticker = msgspec.json.Decoder(BybitTicker)

_FUNDING_FIELDS = ("markPrice", "indexPrice", "fundingRate", "nextFundingTime")


class _BybitVenue(Venue):
    exchange: ClassVar[str] = "bybit"
    ccxt_id: ClassVar[str] = "bybit"
    default_rest_url: ClassVar[str] = config.REST_URL
    ws_ping_interval_s: ClassVar[float | None] = None  # Bybit documents the JSON ping as the keepalive
    app_ping_interval_s: ClassVar[float | None] = config.PING_INTERVAL_S
    #: channel -> topic prefix (the topic is ``<prefix>.<SYMBOL>``)
    channel_topics: ClassVar[dict[str, str]]
    category: ClassVar[str]

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config)
        # Level 1 book and merged ticker per exchange symbol (bounded by the symbols streamed).
        self._books: dict[str, list[tuple[str, str] | None]] = {}
        self._tickers: dict[str, dict[str, str]] = {}

    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        return f"{base}{quote}".upper()

    def streams_for(self, symbol: str) -> list[str]:
        native = self.native_id(symbol)
        out = []
        for channel in self.config.channels:
            prefix = self.channel_topics.get(channel)
            if prefix is None:
                raise ValueError(f"{self.name}: channel {channel!r} is not one of {sorted(self.channel_topics)}")
            out.append(f"{prefix}.{native}")
        return out

    def connect_url(self) -> str:
        return self.config.ws_url

    def _requests(self, op: str, streams: list[str], request_id: int) -> list[str]:
        size = self.limits.streams_per_subscribe
        return [msgspec.json.encode({"op": op, "args": streams[i:i + size], "req_id": str(request_id + n)}).decode()
                for n, i in enumerate(range(0, len(streams), size))]

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("subscribe", streams, request_id)

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("unsubscribe", streams, request_id)

    def app_ping_message(self) -> str | None:
        return '{"op":"ping"}'

    def is_app_pong(self, frame: str | bytes) -> bool:
        try:
            env = _frame_decoder.decode(frame)
        except msgspec.DecodeError:
            return False
        return env.topic is None and _is_pong(env)

    # ---- frames ------------------------------------------------------------
    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        try:
            env = _frame_decoder.decode(frame)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        if env.topic is None:
            return self._response(env)
        if not env.data:
            raise RecordError("schema_mismatch", f"{self.name} {env.topic}: push without data")
        prefix, _, native = env.topic.rpartition(".")
        try:
            if prefix == "kline.1":
                klines = _klines.decode(env.data)
                return [parse.parse_kline_to_candle(k, self.subscribed_symbol(native, env.topic), self.exchange,
                                                    self.market, received_at) for k in klines if k.confirm]
            if prefix == "publicTrade":
                out: list[msgspec.Struct] = []
                for t in _trades.decode(env.data):
                    sym = self.subscribed_symbol(t.s, env.topic)
                    out.append(parse.parse_trade_to_tick(t, sym, self.exchange, self.market, received_at))
                return out
            if prefix == "orderbook.1":
                return self._on_book(_book.decode(env.data), env, received_at)
            if prefix == "tickers" and "funding" in self.channel_topics:
                return self._on_ticker(_ticker.decode(env.data), env, received_at)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name} {env.topic}: {exc}") from None
        raise RecordError("unexpected_stream", f"{self.name}: topic {env.topic!r} is not one we decode")


    def _response(self, env: BybitFrame) -> list[msgspec.Struct]:
        if _is_pong(env):
            return []
        if env.op in ("subscribe", "unsubscribe") and env.success is not None:
            req: int | str | None = env.req_id
            if isinstance(req, str) and req.isdigit():
                req = int(req)
            if env.success:
                return [SubscribeAck(req or None)]
            return [SubscribeAck(req or None, ok=False, detail=f"{env.op}: {env.ret_msg}")]
        raise RecordError("unexpected_frame", f"{self.name}: neither a topic push nor a response (op {env.op!r})")

    def _on_book(self, msg: BybitOrderbook, env: BybitFrame, received_at: int) -> list[msgspec.Struct]:
        symbol = self.subscribed_symbol(msg.s, env.topic or "")
        best = self._books.get(msg.s)
        if env.type == "snapshot" or best is None:
            best = self._books[msg.s] = [None, None]
        for side, levels in ((0, msg.b), (1, msg.a)):
            if len(levels) > 1:
                raise RecordError("schema_mismatch", f"{self.name} {env.topic}: {len(levels)} levels on one side "
                                                     "of a level 1 book")
            for level in levels:
                if len(level) != 2:
                    raise RecordError("schema_mismatch", f"{self.name} {env.topic}: level {level!r} is not [price, size]")
                price, size = level
                if parse.size_is_zero(size, "b" if side == 0 else "a", symbol):
                    current = best[side]
                    if current is not None and current[0] == price:
                        best[side] = None
                else:
                    best[side] = (price, size)
        bid, ask = best
        if bid is None or ask is None:
            return []  # one side empty (or not yet known): no quote to publish
        event_time = env.cts or env.ts or received_at
        return [parse.parse_book_to_quote(bid, ask, symbol, self.exchange, self.market, event_time, received_at)]

    def _on_ticker(self, msg: BybitTicker, env: BybitFrame, received_at: int) -> list[msgspec.Struct]:
        symbol = self.subscribed_symbol(msg.symbol, env.topic or "")
        changed = {k: v for k, v in msgspec.structs.asdict(msg).items() if v is not None and k != "symbol"}
        if env.type == "snapshot" or msg.symbol not in self._tickers:
            self._tickers[msg.symbol] = dict(changed)
        else:
            self._tickers[msg.symbol].update(changed)
        fields = self._tickers[msg.symbol]
        event_time = env.ts or received_at
        out: list[msgspec.Struct] = []
        if "markPrice" in fields and any(k in changed for k in _FUNDING_FIELDS):
            out.append(parse.parse_ticker_to_funding(fields, symbol, self.exchange, self.market, event_time, received_at))
        if "openInterest" in changed:
            out.append(parse.parse_ticker_to_open_interest(fields, symbol, self.exchange, self.market, event_time,
                                                           received_at))
        return out

    # ---- REST --------------------------------------------------------------
    def ccxt_exchange(self) -> Any:
        import ccxt.async_support as ccxt_async

        exchange = ccxt_async.bybit({"enableRateLimit": True})
        rest = self.config.rest_url.rstrip("/")
        exchange.urls["api"] = {name: rest for name in exchange.urls["api"]}
        exchange.options["fetchMarkets"] = dict(exchange.options.get("fetchMarkets") or {}) | {"types": [self.category]}
        exchange.options["defaultType"] = "spot" if self.category == "spot" else "swap"
        exchange.options["defaultSubType"] = "linear"
        return exchange


def _is_pong(env: BybitFrame) -> bool:
    # spot/linear answer {"success": true, "ret_msg": "pong", "op": "ping"}; other
    # categories {"op": "pong", "args": [ts]}.
    return env.op == "pong" or (env.op == "ping" and env.ret_msg == "pong")


class BybitSpotVenue(_BybitVenue):
    name: ClassVar[str] = "bybit-spot"
    market: ClassVar[str] = "spot"
    env_name: ClassVar[str] = "BYBIT"
    category: ClassVar[str] = "spot"
    default_ws_url: ClassVar[str] = config.SPOT_WS_URL
    limits: ClassVar[VenueLimits] = config.SPOT_LIMITS
    channel_topics: ClassVar[dict[str, str]] = {"kline": "kline.1", "trades": "publicTrade", "quotes": "orderbook.1"}

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))


class BybitLinearVenue(_BybitVenue):
    name: ClassVar[str] = "bybit-linear"
    market: ClassVar[str] = "linear"
    env_name: ClassVar[str] = "BYBIT_LINEAR"
    category: ClassVar[str] = "linear"
    default_ws_url: ClassVar[str] = config.LINEAR_WS_URL
    limits: ClassVar[VenueLimits] = config.LINEAR_LIMITS
    channel_topics: ClassVar[dict[str, str]] = {"kline": "kline.1", "trades": "publicTrade", "quotes": "orderbook.1",
                                                "funding": "tickers"}

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config or VenueConfig(self.default_ws_url, self.default_rest_url,
                                               channels=("kline", "trades", "quotes", "funding")))

    def accepts_market(self, market: dict[str, Any]) -> bool:
        # USDT/USDC perpetuals only (dated linear futures have their own expiry-suffixed ids)
        return bool(market.get("linear")) and bool(market.get("swap"))
