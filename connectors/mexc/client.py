"""MEXC venues: spot (protobuf pushes) and USDT-M perpetual contracts (JSON).

Spot streams are MEXC's channel names (``spot@public.kline.v3.api.pb@BTCUSDT@Min1``,
``spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT``,
``spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT``), subscribed with
``{"method": "SUBSCRIPTION", "params": [...], "id": n}``; data arrives as
binary ``PushDataV3ApiWrapper`` frames (``connectors.mexc.proto``), responses
as JSON. Contract streams are named ``<kind>:<contract>`` after MEXC's
``sub.<kind>`` requests (``kline:BTC_USDT`` with interval Min1, ``deal``,
``depth.full`` with limit 5 for the best bid/ask, ``ticker`` and
``funding.rate`` for mark price, funding and open interest), one symbol per
request, always with ``"gzip": false``.

Klines have no close flag on either market. A window is published (provenance
``inferred``) by whichever comes first:

1. the next window: the first push of a later window of the same symbol
   proves the previous one over, and the last push seen of it is its final
   state (:class:`connectors.base.candles.KlineCloser`);
2. a timer after the minute ends: once the exchange's clock passes the
   window's end plus ``config.KLINE_CLOSE_GRACE_MS`` (3 s). The clock is the
   send time of every frame the venue decodes, of any symbol and channel
   (spot ``sendTime``/``createTime``, contract ``ts`` and the ``pong`` time),
   so a quiet symbol whose next window never starts is still closed within
   seconds, and a replay with a virtual clock behaves like the exchange. The
   check costs one comparison per frame and a sweep of the pending windows
   once per minute. A send time more than a minute ahead of our own clock
   is not believed.

A push for a window already closed (it arrived after the timer closed it) is
counted in ``late_kline_pushes`` and not republished: the connector's REST
audit republishes the window as a ``correction`` if its final state differs.
Every (re)subscription forgets the pending windows of its symbols, so a
window is never inferred across a hole; the reconnect backfill fetches it
over REST. A frame that fails to decode does not move the clock.

Contract sizes are contracts on the wire; every record carries base currency
(``connectors.base.units``): each contract's ``contractSize`` is learnt when
markets load, a frame of a contract whose size is unknown is dead-lettered
(``unknown_contract_size``), and the ccxt client converts REST candle
volumes with the same function.
"""

from __future__ import annotations

import base64
import gzip
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from connectors.base.candles import KlineCloser
from connectors.base.units import ContractSizedVenue, ccxt_with_base_volume
from connectors.base.venue import Venue, VenueConfig, VenueLimits
from connectors.mexc import config, parse
from connectors.mexc.proto import DecodeError, PushDataV3ApiWrapper
from connectors.mexc.schemas import (
    MexcContractDeal,
    MexcContractDepth,
    MexcContractFrame,
    MexcContractFundingRate,
    MexcContractKline,
    MexcContractTicker,
    MexcSpotResponse,
)
from connectors.records import SubscribeAck
from detectors.timeframes import MINUTE_MS
from streams.records import Candle, RecordError

_spot_response = msgspec.json.Decoder(MexcSpotResponse)
_contract_frame = msgspec.json.Decoder(MexcContractFrame)
_contract_kline = msgspec.json.Decoder(MexcContractKline)
#: Deals come as a list (live, batched) or as one object (the documentation's example).
_contract_deals = msgspec.json.Decoder(list[MexcContractDeal] | MexcContractDeal)
_contract_depth = msgspec.json.Decoder(MexcContractDepth)
_contract_ticker = msgspec.json.Decoder(MexcContractTicker)
_contract_funding = msgspec.json.Decoder(MexcContractFundingRate)
_any = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode
#: Bytes of a rejected binary frame carried (base64) in the dead letter's detail.
_RAW_LIMIT = 4096
#: The exchange clock ignores send times further ahead of the local receive time.
_MAX_AHEAD_MS = 60_000


class _MexcVenue(Venue):
    exchange: ClassVar[str] = "mexc"
    kline_closes_by_flag: ClassVar[bool] = False
    #: Neither market documents monotonic trade ids (spot may send none at all).
    monotonic_trade_ids: ClassVar[bool] = False
    # MEXC wants its JSON ping; protocol pings are not required.
    ws_ping_interval_s: ClassVar[float | None] = None

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config)
        self._closer: KlineCloser[Candle] = KlineCloser()
        #: symbol -> open time of the newest window published from the websocket.
        self._closed_through: dict[str, int] = {}
        self._clock = 0  # the exchange's clock: newest send time seen (ms)
        self._swept_before = 0  # windows opened before this were swept by the timer
        self.late_kline_pushes = 0
        self.timer_closes = 0

    # ---- closing klines -------------------------------------------------------
    @property
    def exchange_clock(self) -> int:
        """The newest exchange send time decoded (ms); 0 before the first frame."""
        return self._clock

    def _advance_clock(self, sent_ms: int, received_at: int) -> list[msgspec.Struct]:
        """Move the exchange clock; return windows the timer closes now. A send
        time more than ``_MAX_AHEAD_MS`` past our own receive time is not
        believed (one bad timestamp must not close every open window)."""
        if sent_ms <= self._clock or sent_ms > received_at + _MAX_AHEAD_MS:
            return []
        self._clock = sent_ms
        cutoff = (sent_ms - config.KLINE_CLOSE_GRACE_MS) // MINUTE_MS * MINUTE_MS
        if cutoff <= self._swept_before:
            return []
        self._swept_before = cutoff
        due = self._closer.close_before(cutoff)
        for candle in due:
            self._closed_through[candle.symbol] = candle.open_time
        self.timer_closes += len(due)
        return list(due)

    def _on_kline_push(self, candle: Candle) -> list[msgspec.Struct]:
        last = self._closed_through.get(candle.symbol)
        if last is not None and candle.open_time <= last:
            self.late_kline_pushes += 1
            return []
        closed = self._closer.update(candle.symbol, candle.open_time, candle)
        if closed is None:
            return []
        self._closed_through[closed.symbol] = closed.open_time
        return [closed]

    def _forget(self, symbols: list[str], *, unsubscribed: bool) -> None:
        # A (re)subscription may follow a hole in the stream: never infer a close across it.
        self._closer.forget(symbols)
        if unsubscribed:
            for s in symbols:
                self._closed_through.pop(s, None)

    # ---- shared -------------------------------------------------------------------
    @abstractmethod
    def _symbol_of_stream(self, stream: str) -> str | None:
        """The native symbol a subscription stream name refers to (None: not ours)."""

    def _symbols_of(self, streams: list[str]) -> list[str]:
        out = []
        for stream in streams:
            native = self._symbol_of_stream(stream)
            sym = self._unified.get(native) if native else None
            if sym is not None:
                out.append(sym)
        return list(dict.fromkeys(out))

    def _ccxt(self) -> Any:
        import ccxt.async_support as ccxt_async

        exchange = ccxt_with_base_volume(ccxt_async.mexc)({"enableRateLimit": True})
        rest = self.config.rest_url.rstrip("/")
        api = dict(exchange.urls["api"])
        api["spot"] = {"public": rest, "private": rest}
        api["contract"] = {"public": rest + config.FUTURES_CONTRACT_PATH, "private": rest + "/api/v1/private"}
        exchange.urls["api"] = api
        exchange.has = dict(exchange.has) | {"fetchCurrencies": False}  # MEXC's currency list needs an API key
        return exchange

    def ccxt_exchange(self) -> Any:
        return self._ccxt()


# ---- spot ------------------------------------------------------------------------------

_KLINE_PREFIX = "spot@public.kline.v3.api.pb@"
_SPOT_CHANNELS = {
    "kline": _KLINE_PREFIX + "{s}@Min1",
    "trades": "spot@public.aggre.deals.v3.api.pb@" + config.SPOT_AGGREGATION + "@{s}",
    "quotes": "spot@public.aggre.bookTicker.v3.api.pb@" + config.SPOT_AGGREGATION + "@{s}",
}


class MexcSpotVenue(_MexcVenue):
    name: ClassVar[str] = "mexc-spot"
    market: ClassVar[str] = "spot"
    ccxt_id: ClassVar[str] = "mexc"
    env_name: ClassVar[str] = "MEXC"
    default_ws_url: ClassVar[str] = config.SPOT_WS_URL
    default_rest_url: ClassVar[str] = config.SPOT_REST_URL
    limits: ClassVar[VenueLimits] = config.SPOT_LIMITS
    app_ping_interval_s: ClassVar[float | None] = config.SPOT_PING_INTERVAL_S

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))

    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        return f"{base}{quote}".upper()

    def streams_for(self, symbol: str) -> list[str]:
        native = self.native_id(symbol)
        out = []
        for channel in self.config.channels:
            template = _SPOT_CHANNELS.get(channel)
            if template is None:
                raise ValueError(f"{self.name}: channel {channel!r} is not one of {sorted(_SPOT_CHANNELS)}")
            out.append(template.format(s=native))
        return out

    def connect_url(self) -> str:
        return self.config.ws_url

    def app_ping_message(self) -> str | None:
        return '{"method":"PING"}'

    def _symbol_of_stream(self, stream: str) -> str | None:
        parts = stream.split("@")
        if len(parts) < 4:
            return None
        return parts[2] if stream.startswith(_KLINE_PREFIX) else parts[-1]

    def _requests(self, method: str, streams: list[str], request_id: int) -> list[str]:
        self._forget(self._symbols_of(streams), unsubscribed=method == "UNSUBSCRIPTION")
        size = self.limits.streams_per_subscribe
        return [_encode({"method": method, "params": streams[i:i + size], "id": request_id + n}).decode()
                for n, i in enumerate(range(0, len(streams), size))]

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("SUBSCRIPTION", streams, request_id)

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("UNSUBSCRIPTION", streams, request_id)

    # ---- frames ------------------------------------------------------------------------
    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        if isinstance(frame, str) or frame[:1] == b"{":
            return self._parse_response(frame)
        try:
            return self._parse_push(frame, received_at)
        except RecordError as exc:
            # The dead letter keeps ``raw`` as text, which mangles binary: carry the exact bytes here.
            shown = base64.b64encode(frame[:_RAW_LIMIT]).decode()
            cut = f" (first {_RAW_LIMIT} of {len(frame)} bytes)" if len(frame) > _RAW_LIMIT else ""
            raise RecordError(exc.reason, f"{exc.detail} [frame base64{cut}: {shown}]", field=exc.field) from None

    def _parse_push(self, frame: bytes, received_at: int) -> list[msgspec.Struct]:
        try:
            push = PushDataV3ApiWrapper.FromString(frame)
        except DecodeError as exc:
            raise RecordError("malformed_protobuf", f"{self.name}: {len(frame)}-byte frame: {exc}") from None
        body = push.WhichOneof("body")
        channel = push.channel
        sent = push.sendTime or push.createTime
        event_time = sent or received_at
        if body == "publicAggreDeals":
            records: list[msgspec.Struct] = list(parse.parse_spot_deals_to_ticks(
                push.publicAggreDeals, self._frame_symbol(push, channel), self.exchange, self.market, received_at))
        elif body == "publicAggreBookTicker":
            records = [parse.parse_spot_book_ticker_to_quote(push.publicAggreBookTicker,
                                                             self._frame_symbol(push, channel), self.exchange,
                                                             self.market, event_time, received_at)]
        elif body == "publicSpotKline":
            candle = parse.parse_spot_kline_to_candle(push.publicSpotKline, self._frame_symbol(push, channel),
                                                      self.exchange, self.market, event_time, received_at)
            records = self._on_kline_push(candle)
        else:
            raise RecordError("unexpected_stream", f"{self.name}: channel {channel!r} carries no body we decode"
                              f" ({body or 'unknown or empty body'})")
        if sent:
            closed = self._advance_clock(sent, received_at)
            if closed:
                records.extend(closed)
        return records

    def _frame_symbol(self, push: Any, channel: str) -> str:
        native = push.symbol or self._symbol_of_stream(channel)
        if not native:
            raise RecordError("missing_field", f"{self.name}: frame on channel {channel!r} names no symbol",
                              field="symbol")
        return self.subscribed_symbol(native, channel)

    def _parse_response(self, frame: str | bytes) -> list[msgspec.Struct]:
        try:
            r = _spot_response.decode(frame)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        if r.msg == "PONG":
            return []
        rid = int(r.id) if isinstance(r.id, str) and r.id.isdigit() else r.id
        if r.code != 0 or r.msg.lower().startswith("not "):
            return [SubscribeAck(rid, ok=False, detail=f"code {r.code}: {r.msg}")]
        return [SubscribeAck(rid)]


# ---- USDT-M perpetual contracts ---------------------------------------------------------

#: registry channel -> contract subscription kinds (``sub.<kind>``).
_CONTRACT_KINDS: dict[str, tuple[str, ...]] = {
    "kline": ("kline",), "trades": ("deal",), "quotes": ("depth.full",), "funding": ("ticker", "funding.rate"),
}
_CONTRACT_PARAMS: dict[str, dict[str, Any]] = {"kline": {"interval": "Min1"},
                                               "depth.full": {"limit": config.FUTURES_DEPTH_LIMIT}}


class MexcFuturesVenue(ContractSizedVenue, _MexcVenue):
    """USDT-margined perpetual contracts (``BTC_USDT``...)."""

    name: ClassVar[str] = "mexc-futures"
    market: ClassVar[str] = "linear"
    ccxt_id: ClassVar[str] = "mexc"
    env_name: ClassVar[str] = "MEXC_FUTURES"
    default_ws_url: ClassVar[str] = config.FUTURES_WS_URL
    default_rest_url: ClassVar[str] = config.FUTURES_REST_URL
    limits: ClassVar[VenueLimits] = config.FUTURES_LIMITS
    app_ping_interval_s: ClassVar[float | None] = config.FUTURES_PING_INTERVAL_S

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config or VenueConfig(self.default_ws_url, self.default_rest_url,
                                               channels=("kline", "trades", "quotes", "funding")))
        #: native -> (mark, index) of the last ticker; native -> (rate, next settle) of the last funding push.
        self._marks: dict[str, tuple[float, float | None]] = {}
        self._funding: dict[str, tuple[float, int | None]] = {}
        self._handlers: dict[str, Callable[[MexcContractFrame, int], list[msgspec.Struct]]] = {
            "push.kline": self._on_kline, "push.deal": self._on_deal, "push.depth.full": self._on_depth,
            "push.ticker": self._on_ticker, "push.funding.rate": self._on_funding_rate,
        }

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("swap")) and bool(market.get("linear"))

    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        return f"{base}_{quote}".upper()

    def streams_for(self, symbol: str) -> list[str]:
        native = self.native_id(symbol)
        out = []
        for channel in self.config.channels:
            kinds = _CONTRACT_KINDS.get(channel)
            if kinds is None:
                raise ValueError(f"{self.name}: channel {channel!r} is not one of {sorted(_CONTRACT_KINDS)}")
            out += [f"{kind}:{native}" for kind in kinds]
        return out

    def connect_url(self) -> str:
        return self.config.ws_url

    def app_ping_message(self) -> str | None:
        return '{"method":"ping"}'

    def _symbol_of_stream(self, stream: str) -> str | None:
        return stream.partition(":")[2] or None

    def _requests(self, verb: str, streams: list[str]) -> list[str]:
        unsubscribe = verb == "unsub"
        self._forget(self._symbols_of(streams), unsubscribed=unsubscribe)
        out = []
        for stream in streams:
            kind, sep, native = stream.partition(":")
            if not sep or not native:
                raise ValueError(f"{self.name}: stream {stream!r} is not <kind>:<contract>")
            if unsubscribe:
                out.append(_encode({"method": f"unsub.{kind}", "param": {"symbol": native}}).decode())
                if kind == "ticker":
                    self._marks.pop(native, None)
                elif kind == "funding.rate":
                    self._funding.pop(native, None)
            else:
                param = {"symbol": native} | _CONTRACT_PARAMS.get(kind, {})
                out.append(_encode({"method": f"sub.{kind}", "param": param, "gzip": False}).decode())
        return out

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("sub", streams)

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("unsub", streams)

    # ---- frames ------------------------------------------------------------------------
    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        if isinstance(frame, bytes) and frame[:2] == b"\x1f\x8b":
            try:
                frame = gzip.decompress(frame)
            except (OSError, EOFError) as exc:
                raise RecordError("malformed_gzip", f"{self.name}: {exc}") from None
        try:
            env = _contract_frame.decode(frame)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        channel = env.channel
        handler = self._handlers.get(channel)
        if handler is not None:
            try:
                records = handler(env, received_at)
            except msgspec.ValidationError as exc:
                raise RecordError("schema_mismatch", f"{self.name} {channel} {env.symbol}: {exc}") from None
            except msgspec.DecodeError as exc:
                raise RecordError("malformed_json", f"{self.name} {channel} {env.symbol}: {exc}") from None
            if env.ts:
                closed = self._advance_clock(env.ts, received_at)
                if closed:
                    records.extend(closed)
            return records
        if channel == "pong":
            server_ms = _any.decode(env.data) if env.data else None
            return self._advance_clock(server_ms, received_at) if isinstance(server_ms, int) else []
        if channel == "rs.error":
            return [SubscribeAck(None, ok=False, detail=f"rs.error: {_text(env.data)}")]
        if channel.startswith("rs."):
            answer = _text(env.data)
            if answer == "success":
                return [SubscribeAck(None)]
            return [SubscribeAck(None, ok=False, detail=f"{channel}: {answer}")]
        raise RecordError("unexpected_stream", f"{self.name}: channel {channel!r} is not one we decode")

    def _frame_native(self, env: MexcContractFrame, data_symbol: str | None = None) -> str:
        native = env.symbol or data_symbol
        if not native:
            raise RecordError("missing_field", f"{self.name}: {env.channel} frame names no symbol", field="symbol")
        return native

    def _on_kline(self, env: MexcContractFrame, received_at: int) -> list[msgspec.Struct]:
        k = _contract_kline.decode(env.data)
        native = self._frame_native(env, k.symbol)
        stream = f"kline:{native}"
        symbol = self.subscribed_symbol(native, stream)
        candle = parse.parse_contract_kline_to_candle(k, symbol, self.exchange, self.market,
                                                      env.ts or received_at, received_at,
                                                      self._contract_sizes.of(native, stream))
        return self._on_kline_push(candle)

    def _on_deal(self, env: MexcContractFrame, received_at: int) -> list[msgspec.Struct]:
        decoded = _contract_deals.decode(env.data)
        deals = decoded if isinstance(decoded, list) else [decoded]
        native = self._frame_native(env)
        stream = f"deal:{native}"
        symbol = self.subscribed_symbol(native, stream)
        size = self._contract_sizes.of(native, stream)
        seen: dict[str, int] = {}  # numbers identical id-less deals within this push
        return [parse.parse_contract_deal_to_tick(d, symbol, self.exchange, self.market, received_at, size, seen)
                for d in deals]

    def _on_depth(self, env: MexcContractFrame, received_at: int) -> list[msgspec.Struct]:
        d = _contract_depth.decode(env.data)
        native = self._frame_native(env)
        stream = f"depth.full:{native}"
        symbol = self.subscribed_symbol(native, stream)
        return [parse.parse_contract_depth_to_quote(d, symbol, self.exchange, self.market,
                                                    env.ts or d.cts or received_at, received_at,
                                                    self._contract_sizes.of(native, stream))]

    def _on_ticker(self, env: MexcContractFrame, received_at: int) -> list[msgspec.Struct]:
        t = _contract_ticker.decode(env.data)
        native = self._frame_native(env, t.symbol)
        stream = f"ticker:{native}"
        symbol = self.subscribed_symbol(native, stream)
        funding = self._funding.get(native)
        out: list[msgspec.Struct] = [parse.parse_contract_ticker_to_funding(
            t, symbol, self.exchange, self.market, funding[1] if funding else None, received_at)]
        if t.holdVol is not None:
            out.append(parse.parse_contract_ticker_to_open_interest(t, symbol, self.exchange, self.market,
                                                                    received_at, self._contract_sizes.of(native, stream)))
        self._marks[native] = (t.fairPrice, t.indexPrice)
        return out

    def _on_funding_rate(self, env: MexcContractFrame, received_at: int) -> list[msgspec.Struct]:
        f = _contract_funding.decode(env.data)
        native = self._frame_native(env, f.symbol)
        symbol = self.subscribed_symbol(native, f"funding.rate:{native}")
        rate = f.rate if f.rate is not None else f.fundingRate
        if rate is None:
            raise RecordError("missing_field", f"{symbol}: push.funding.rate without rate", field="rate")
        self._funding[native] = (rate, f.nextSettleTime)
        mark = self._marks.get(native)
        if mark is None:
            return []  # no mark price yet: merged into the next ticker
        return [parse.merge_funding_rate(symbol, self.exchange, self.market, mark[0], mark[1], rate,
                                         f.nextSettleTime, env.ts or received_at, received_at)]


def _text(raw: msgspec.Raw) -> str:
    if not raw:
        return ""
    value = _any.decode(raw)
    return value if isinstance(value, str) else bytes(raw).decode(errors="replace")
