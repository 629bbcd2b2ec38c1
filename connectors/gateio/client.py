"""Gate.io v4 venues: subscription names, requests, frame decoding, ccxt client.

A stream is named ``<channel>:<argument>`` after Gate's own notation:
``spot.candlesticks:1m_BTC_USDT`` (the ``n`` field Gate puts in every
candlestick), ``spot.trades:BTC_USDT``, ``futures.book_ticker:BTC_USDT``.
Requests are ``{"time", "id", "channel", "event": "subscribe"|"unsubscribe",
"payload"}``; candlestick requests carry one ``[interval, pair]`` each (Gate's
documented form), list channels up to ``limits.streams_per_subscribe`` pairs.
Responses echo ``id`` with ``error`` null on success.

Klines close by flag: Gate marks the last update of a window ``w: true``.
Gate warns the flag "may be missing"; a window whose closing update never
arrives shows up as a gap at the next closed window and is fetched over REST,
so it is late, never lost.

Futures sizes are contracts on the wire; every record carries base currency
(``connectors.base.units``): each contract's ``quanto_multiplier`` (ccxt's
``contractSize``) is learnt when markets load, a frame of a contract whose
size is unknown is dead-lettered (``unknown_contract_size``), and the ccxt
client converts REST candle volumes with the same function.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any, ClassVar

import msgspec

from connectors.base.units import ContractSizedVenue, ccxt_with_base_volume
from connectors.base.venue import Venue, VenueConfig, VenueLimits
from connectors.gateio import config, parse
from connectors.gateio.schemas import (
    GateBookTicker,
    GateCandlestick,
    GateFrame,
    GateFuturesTicker,
    GateFuturesTrade,
    GateSpotTrade,
)
from connectors.records import SubscribeAck
from streams.records import RecordError

_frame = msgspec.json.Decoder(GateFrame)
_candle = msgspec.json.Decoder(GateCandlestick)
_candles = msgspec.json.Decoder(list[GateCandlestick])
_spot_trade = msgspec.json.Decoder(GateSpotTrade)
_futures_trades = msgspec.json.Decoder(list[GateFuturesTrade])
_book = msgspec.json.Decoder(GateBookTicker)
_tickers = msgspec.json.Decoder(list[GateFuturesTicker])


class _GateioVenue(Venue):
    exchange: ClassVar[str] = "gateio"
    ccxt_id: ClassVar[str] = "gate"
    monotonic_trade_ids: ClassVar[bool] = True
    ws_ping_interval_s: ClassVar[float | None] = 20.0
    #: "spot" or "futures": the channel prefix.
    prefix: ClassVar[str]
    ws_path: ClassVar[str]
    channel_names: ClassVar[dict[str, str]]

    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        return f"{base}_{quote}".upper()

    def streams_for(self, symbol: str) -> list[str]:
        native = self.native_id(symbol)
        out = []
        for channel in self.config.channels:
            name = self.channel_names.get(channel)
            if name is None:
                raise ValueError(f"{self.name}: channel {channel!r} is not one of {sorted(self.channel_names)}")
            arg = f"1m_{native}" if name.endswith(".candlesticks") else native
            out.append(f"{self.prefix}.{name.rpartition('.')[2]}:{arg}")
        return out

    def connect_url(self) -> str:
        return self.config.ws_url.rstrip("/") + self.ws_path

    def _requests(self, event: str, streams: list[str], request_id: int) -> list[str]:
        by_channel: dict[str, list[str]] = {}
        for stream in streams:
            channel, sep, arg = stream.partition(":")
            if not sep or not arg:
                raise ValueError(f"{self.name}: stream {stream!r} is not <channel>:<argument>")
            by_channel.setdefault(channel, []).append(arg)
        payloads: list[tuple[str, list[str]]] = []
        size = self.limits.streams_per_subscribe
        for channel, args in by_channel.items():
            if channel.endswith(".candlesticks"):
                payloads += [(channel, list(arg.split("_", 1))) for arg in args]
            else:
                payloads += [(channel, args[i:i + size]) for i in range(0, len(args), size)]
        now_s = int(time.time())
        return [msgspec.json.encode({"time": now_s, "id": request_id + n, "channel": channel, "event": event,
                                     "payload": payload}).decode()
                for n, (channel, payload) in enumerate(payloads)]

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("subscribe", streams, request_id)

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("unsubscribe", streams, request_id)


    def contract_size(self, native: str, stream: str) -> float:
        """Base units per contract of ``native`` (1 on spot: sizes are base already)."""
        return 1.0

    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        try:
            env = _frame.decode(frame)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        if env.event in ("subscribe", "unsubscribe"):
            if env.error is not None:
                return [SubscribeAck(env.id, ok=False,
                                     detail=f"{env.channel} {env.event}: code {env.error.code}: {env.error.message}")]
            return [SubscribeAck(env.id)]
        if env.channel.endswith(".pong"):
            return []
        if env.event not in ("update", "all") or not env.result:
            raise RecordError("unexpected_frame", f"{self.name}: channel {env.channel!r} event {env.event!r}")
        event_time = env.time_ms if env.time_ms is not None else (env.time or 0) * 1000
        try:
            return self._parse_update(env.channel, env.result, event_time, received_at)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name} {env.channel}: {exc}") from None

    @abstractmethod
    def _parse_update(self, channel: str, result: msgspec.Raw, event_time: int,
                      received_at: int) -> list[msgspec.Struct]:
        """Records of one ``update`` event of ``channel`` (spot and futures differ)."""

    def _candles(self, points: list[GateCandlestick], channel: str, event_time: int,
                 received_at: int) -> list[msgspec.Struct]:
        out: list[msgspec.Struct] = []
        for k in points:
            if not k.w:
                continue  # an update of a window still open
            native = k.n.partition("_")[2]
            symbol = self.subscribed_symbol(native, channel)
            out.append(parse.parse_candlestick_to_candle(k, symbol, self.exchange, self.market, event_time,
                                                         received_at, self.contract_size(native, channel)))
        return out

    def _ccxt(self, types: list[str]) -> Any:
        import ccxt.async_support as ccxt_async

        exchange = ccxt_with_base_volume(ccxt_async.gate)({"enableRateLimit": True})
        base = self.config.rest_url.rstrip("/") + "/api/v4"
        exchange.urls["api"] = {group: dict.fromkeys(sections, base)
                                for group, sections in exchange.urls["api"].items()}
        exchange.options["fetchMarkets"] = {"types": types}
        exchange.options["swap"] = {"fetchMarkets": {"settlementCurrencies": [config.FUTURES_SETTLE]}}
        exchange.has = dict(exchange.has) | {"fetchCurrencies": False}  # currencies need no REST call here
        return exchange


class GateioSpotVenue(_GateioVenue):
    name: ClassVar[str] = "gateio-spot"
    market: ClassVar[str] = "spot"
    env_name: ClassVar[str] = "GATEIO"
    default_ws_url: ClassVar[str] = config.SPOT_WS_URL
    default_rest_url: ClassVar[str] = config.SPOT_REST_URL
    limits: ClassVar[VenueLimits] = config.SPOT_LIMITS
    prefix: ClassVar[str] = "spot"
    ws_path: ClassVar[str] = config.SPOT_WS_PATH
    channel_names: ClassVar[dict[str, str]] = {"kline": "spot.candlesticks", "trades": "spot.trades",
                                               "quotes": "spot.book_ticker"}

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))

    def _parse_update(self, channel: str, result: msgspec.Raw, event_time: int,
                      received_at: int) -> list[msgspec.Struct]:
        if channel == "spot.candlesticks":
            return self._candles([_candle.decode(result)], channel, event_time, received_at)
        if channel == "spot.trades":
            t = _spot_trade.decode(result)
            return [parse.parse_spot_trade_to_tick(t, self.subscribed_symbol(t.currency_pair, channel), self.exchange,
                                                   self.market, received_at)]
        if channel == "spot.book_ticker":
            q = _book.decode(result)
            return [parse.parse_book_ticker_to_quote(q, self.subscribed_symbol(q.s, channel), self.exchange, self.market,
                                                     received_at)]
        raise RecordError("unexpected_stream", f"{self.name}: channel {channel!r} is not one we decode")

    def ccxt_exchange(self) -> Any:
        return self._ccxt(["spot"])


class GateioFuturesVenue(ContractSizedVenue, _GateioVenue):
    """USDT-settled perpetual contracts (``/v4/ws/usdt``)."""

    name: ClassVar[str] = "gateio-futures"
    market: ClassVar[str] = "linear"
    env_name: ClassVar[str] = "GATEIO_FUTURES"
    default_ws_url: ClassVar[str] = config.FUTURES_WS_URL
    default_rest_url: ClassVar[str] = config.FUTURES_REST_URL
    limits: ClassVar[VenueLimits] = config.FUTURES_LIMITS
    prefix: ClassVar[str] = "futures"
    ws_path: ClassVar[str] = config.FUTURES_WS_PATH
    channel_names: ClassVar[dict[str, str]] = {"kline": "futures.candlesticks", "trades": "futures.trades",
                                               "quotes": "futures.book_ticker", "funding": "futures.tickers"}

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config or VenueConfig(self.default_ws_url, self.default_rest_url,
                                               channels=("kline", "trades", "quotes", "funding")))

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("swap")) and bool(market.get("linear"))

    def _parse_update(self, channel: str, result: msgspec.Raw, event_time: int,
                      received_at: int) -> list[msgspec.Struct]:
        if channel == "futures.candlesticks":
            return self._candles(_candles.decode(result), channel, event_time, received_at)
        if channel == "futures.trades":
            return [parse.parse_futures_trade_to_tick(t, self.subscribed_symbol(t.contract, channel), self.exchange,
                                                      self.market, received_at, self.contract_size(t.contract, channel))
                    for t in _futures_trades.decode(result) if not t.is_internal]
        if channel == "futures.book_ticker":
            q = _book.decode(result)
            return [parse.parse_book_ticker_to_quote(q, self.subscribed_symbol(q.s, channel), self.exchange, self.market,
                                                     received_at, self.contract_size(q.s, channel))]
        if channel == "futures.tickers":
            out: list[msgspec.Struct] = []
            for t in _tickers.decode(result):
                symbol = self.subscribed_symbol(t.contract, channel)
                out.append(parse.parse_futures_ticker_to_funding(t, symbol, self.exchange, self.market, event_time,
                                                                 received_at))
                if t.total_size:
                    out.append(parse.parse_futures_ticker_to_open_interest(
                        t, symbol, self.exchange, self.market, event_time, received_at,
                        self.contract_size(t.contract, channel)))
            return out
        raise RecordError("unexpected_stream", f"{self.name}: channel {channel!r} is not one we decode")

    def ccxt_exchange(self) -> Any:
        return self._ccxt(["swap"])
