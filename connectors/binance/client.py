"""Binance venues: stream names, SUBSCRIBE messages, frame decoding, ccxt client.

Connections go to the combined-stream endpoint ``<ws_url>/stream`` (every data
frame arrives wrapped as ``{"stream": ..., "data": ...}``) and streams are
added and removed with ``SUBSCRIBE`` / ``UNSUBSCRIBE`` requests, answered by
``{"result": null, "id": n}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from connectors.base.venue import Venue, VenueConfig, VenueLimits
from connectors.binance import config, parse
from connectors.binance.schemas import (
    BinanceAggTrade,
    BinanceBookTicker,
    BinanceFrame,
    BinanceKline,
    BinanceMarkPrice,
    BinanceTrade,
)
from connectors.records import SubscribeAck
from streams.records import RecordError

_frame_decoder = msgspec.json.Decoder(BinanceFrame)
_kline = msgspec.json.Decoder(BinanceKline)
_trade = msgspec.json.Decoder(BinanceTrade)
_agg = msgspec.json.Decoder(BinanceAggTrade)
_book = msgspec.json.Decoder(BinanceBookTicker)
_mark = msgspec.json.Decoder(BinanceMarkPrice)

# channel suffix of a stream name -> (decoder, converter to a record)
_CHANNELS: dict[str, tuple[msgspec.json.Decoder[Any], Callable[..., Any]]] = {
    "kline_1m": (_kline, parse.parse_kline_to_candle),
    "trade": (_trade, parse.parse_trade_to_tick),
    "aggTrade": (_agg, parse.parse_agg_trade_to_tick),
    "bookTicker": (_book, parse.parse_book_ticker_to_quote),
    "markPrice@1s": (_mark, parse.parse_mark_price_to_funding),
}


class _BinanceVenue(Venue):
    exchange: ClassVar[str] = "binance"
    monotonic_trade_ids: ClassVar[bool] = True
    ws_ping_interval_s: ClassVar[float | None] = 20.0
    trade_channel: ClassVar[str]
    channel_streams: ClassVar[dict[str, str]]

    def default_native_id(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"{self.name}: symbol {symbol!r} is not BASE/QUOTE")
        return f"{base}{quote}".upper()

    def streams_for(self, symbol: str) -> list[str]:
        low = self.native_id(symbol).lower()
        out = []
        for channel in self.config.channels:
            suffix = self.channel_streams.get(channel)
            if suffix is None:
                raise ValueError(f"{self.name}: channel {channel!r} is not one of {sorted(self.channel_streams)}")
            out.append(f"{low}@{suffix}")
        return out

    def connect_url(self) -> str:
        return self.config.ws_url.rstrip("/") + "/stream"

    def _requests(self, method: str, streams: list[str], request_id: int) -> list[str]:
        size = self.limits.streams_per_subscribe
        return [msgspec.json.encode({"method": method, "params": streams[i:i + size], "id": request_id + n}).decode()
                for n, i in enumerate(range(0, len(streams), size))]

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("SUBSCRIBE", streams, request_id)

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:
        return self._requests("UNSUBSCRIBE", streams, request_id)

    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:
        try:
            env = _frame_decoder.decode(frame)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        stream = env.stream
        if stream is None or not env.data:
            if env.error is not None or env.code is not None:
                detail = env.error if env.error is not None else {"code": env.code, "msg": env.msg}
                return [SubscribeAck(env.id, ok=False, detail=str(detail))]
            if env.id is not None:
                return [SubscribeAck(env.id)]
            raise RecordError("unexpected_frame", f"{self.name}: neither a stream frame nor a response")
        native, _, channel = stream.partition("@")
        entry = _CHANNELS.get(channel)
        if entry is None:
            raise RecordError("unexpected_stream", f"{self.name}: stream {stream!r} is not one we decode")
        decoder, convert = entry
        try:
            msg = decoder.decode(env.data)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name} {stream}: {exc}") from None
        if channel == "kline_1m" and not msg.k.x:
            return []  # an update of a still-open candle
        if channel == "trade" and msg.X is not None and msg.X != "MARKET":
            return []  # USDⓈ-M insurance-fund / ADL fills are not market trades
        symbol = self.subscribed_symbol(msg.s, stream)
        return [convert(msg, symbol, self.exchange, self.market, received_at)]

    def _ccxt(self, cls_name: str, urls: dict[str, str], types: list[str]) -> Any:
        import ccxt.async_support as ccxt_async

        exchange = getattr(ccxt_async, cls_name)({"enableRateLimit": True})
        exchange.urls["api"] = dict(exchange.urls["api"]) | urls
        exchange.options["fetchMarkets"] = {"types": types}
        exchange.options["fetchCurrencies"] = False
        return exchange


class BinanceSpotVenue(_BinanceVenue):
    name: ClassVar[str] = "binance-spot"
    market: ClassVar[str] = "spot"
    ccxt_id: ClassVar[str] = "binance"
    env_name: ClassVar[str] = "BINANCE"
    default_ws_url: ClassVar[str] = config.SPOT_WS_URL
    default_rest_url: ClassVar[str] = config.SPOT_REST_URL
    limits: ClassVar[VenueLimits] = config.SPOT_LIMITS
    channel_streams: ClassVar[dict[str, str]] = {"kline": "kline_1m", "trades": "trade", "quotes": "bookTicker"}

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))

    def ccxt_exchange(self) -> Any:
        rest = self.config.rest_url.rstrip("/")
        return self._ccxt("binance", {"public": f"{rest}/api/v3", "private": f"{rest}/api/v3",
                                      "v1": f"{rest}/api/v1", "sapi": f"{rest}/sapi/v1"}, ["spot"])


class BinanceUsdmVenue(_BinanceVenue):
    name: ClassVar[str] = "binance-usdm"
    market: ClassVar[str] = "usdm"
    ccxt_id: ClassVar[str] = "binanceusdm"
    env_name: ClassVar[str] = "BINANCE_USDM"
    default_ws_url: ClassVar[str] = config.USDM_WS_URL
    default_rest_url: ClassVar[str] = config.USDM_REST_URL
    limits: ClassVar[VenueLimits] = config.USDM_LIMITS
    channel_streams: ClassVar[dict[str, str]] = {"kline": "kline_1m", "trades": "aggTrade",
                                                 "quotes": "bookTicker", "funding": "markPrice@1s"}

    def __init__(self, config: VenueConfig | None = None) -> None:
        super().__init__(config or VenueConfig(self.default_ws_url, self.default_rest_url,
                                               channels=("kline", "trades", "quotes", "funding")))

    def accepts_market(self, market: dict[str, Any]) -> bool:
        return bool(market.get("linear")) and bool(market.get("swap"))

    def ccxt_exchange(self) -> Any:
        rest = self.config.rest_url.rstrip("/")
        return self._ccxt("binanceusdm", {"fapiPublic": f"{rest}/fapi/v1", "fapiPublicV2": f"{rest}/fapi/v2",
                                          "fapiPublicV3": f"{rest}/fapi/v3", "fapiPrivate": f"{rest}/fapi/v1",
                                          "fapiData": f"{rest}/futures/data"}, ["linear"])
