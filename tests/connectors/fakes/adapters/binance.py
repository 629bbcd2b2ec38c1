"""Binance spot / USDⓈ-M for the venue contract: combined streams, ``SUBSCRIBE`` /
``UNSUBSCRIBE`` with ``params``, close flag ``k.x``; captured frames under
tests/connectors/resources/binance/."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from connectors.binance import BinanceSpotVenue, BinanceUsdmVenue
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, Quote, Tick
from tests.connectors.fakes.adapter import (
    BadFrame,
    Contains,
    DecodeCase,
    Expect,
    LimitsCase,
    Malformed,
    Request,
    VenueAdapter,
    accepted,
    case,
    paced_limits,
    replaced,
    resource,
)
from tests.connectors.fakes.binance import FakeBinance
from tests.connectors.fakes.exchange import CandleRow


def frame(name: str) -> str:
    return resource("binance", name)


def _symbols() -> dict[str, str]:
    return {"NKN/USDT": "NKNUSDT", "OMG/BUSD": "OMGBUSD", "BTC/USDT": "BTCUSDT", "SUSHI/USDT": "SUSHIUSDT",
            "CTK/USDT": "CTKUSDT"}


def tick(symbol: str, trade_id: str, price: float, qty: float, side: str, event_time: int) -> Expect:
    return Expect(Tick, {"symbol": symbol, "trade_id": trade_id, "price": price, "qty": qty, "side": side,
                         "event_time": event_time, "received_at": 7})


@dataclass
class BinanceAdapter(VenueAdapter):
    decode_symbols: dict[str, str] = field(default_factory=_symbols)

    def parse_request(self, text: str) -> Request:
        req = json.loads(text)
        op = {"SUBSCRIBE": "subscribe", "UNSUBSCRIBE": "unsubscribe"}.get(req.get("method"), "other")
        return Request(op, tuple(req.get("params") or ()))

    def malformed(self, fake: FakeBinance, native: str, rows: list[CandleRow]) -> list[Malformed]:
        kline = f"{native.lower()}@kline_1m"
        truncated = '{"stream":"' + kline + '","data":{"e":"kline","E":1'
        closed = fake.wrap(kline, fake.kline_payload(native, rows[0], closed=True, event_time=1))
        bad_price = replaced(closed, f'"o":"{rows[0].open:.8f}"', '"o":"NaN?"')
        return [Malformed(kline, truncated, "malformed_json"),
                Malformed(kline, bad_price, "bad_number", names_symbol=True)]

    def limits_case(self) -> LimitsCase:
        return paced_limits(self.venue_cls, 6 if self.fake_market == "spot" else 8)

    def decode_cases(self) -> list[DecodeCase]:
        acks = [case("subscribe_ack", frame("subscribe_ack.json"), accepted(1)),
                case("subscribe_error", frame("subscribe_error.json"),
                     Expect(SubscribeAck, {"id": 3, "ok": False, "detail": Contains("SUBSCRIB")}))]
        if self.fake_market == "spot":
            return [*acks,
                    case("closed kline", frame("spot_kline_closed.json"), Expect(Candle, {
                        "symbol": "OMG/BUSD", "open_time": 1633998240000, "close_time": 1633998299999,
                        "event_time": 1633998301755, "received_at": 1633998301800, "open": 13.7212,
                        "high": 13.8076, "low": 13.7212, "close": 13.7664, "volume": 536.51,
                        "quote_volume": 7387.120735, "trades": 14}), received_at=1633998301800),
                    case("open kline", frame("spot_kline_open.json")),
                    case("trade", frame("spot_trade.json"),
                         tick("BTC/USDT", "3735693016", 61685.99, 0.00017, "sell", 1723161601437), received_at=7),
                    case("aggTrade", frame("spot_agg_trade.json"),
                         tick("NKN/USDT", "15683430", 0.3528, 58.0, "buy", 1633998523963), received_at=7),
                    # spot book tickers carry no event time: the receive time stands in
                    case("bookTicker", frame("spot_book_ticker.json"), Expect(Quote, {
                        "symbol": "BTC/USDT", "bid": 61685.99, "bid_qty": 1.25869, "ask": 61686.0,
                        "ask_qty": 2.44816, "event_time": 99}), received_at=99)]
        return [*acks,
                case("closed kline", frame("usdm_kline_closed.json"), Expect(Candle, {
                    "symbol": "SUSHI/USDT", "open_time": 1626992700000, "event_time": 1626992760203,
                    "open": 7.608, "high": 7.618, "low": 7.607, "close": 7.617, "volume": 3005.0,
                    "quote_volume": 22875.859, "trades": 113}), received_at=5),
                case("open kline", frame("usdm_kline_open.json")),
                case("aggTrade", frame("usdm_agg_trade.json"),
                     tick("CTK/USDT", "16599292", 1.011, 10.0, "buy", 1626992741421), received_at=7),
                case("trade", frame("usdm_trade.json"),
                     tick("BTC/USDT", "5266583935", 61800.3, 0.006, "buy", 1723161256322), received_at=7),
                case("bookTicker", frame("usdm_book_ticker.json"), Expect(Quote, {
                    "bid": 61800.2, "bid_qty": 2.507, "ask": 61800.3, "ask_qty": 2.51, "event_time": 1723161256313}),
                    received_at=99),
                case("markPrice", frame("usdm_mark_price.json"), Expect(FundingRate, {
                    "symbol": "BTC/USDT", "mark_price": 11794.15, "index_price": 11784.62659091,
                    "funding_rate": 0.00038167, "next_funding_time": 1562306400000, "event_time": 1562305380000}))]

    def bad_frames(self) -> list[BadFrame]:
        common = [BadFrame("truncated", '{"stream":"btcusdt@kline_1m","data":{"e":"kline",', "malformed_json"),
                  BadFrame("depth stream", frame("spot_depth_update.json"), "unexpected_stream"),
                  BadFrame("no stream", '{"hello":1}', "unexpected_frame")]
        if self.fake_market == "spot":
            trade, kline = frame("spot_trade.json"), frame("spot_kline_closed.json")
            return [*common,
                    BadFrame("price", replaced(trade, '"p":"61685.99000000"', '"p":"abc"'), "bad_number"),
                    BadFrame("trade id", replaced(trade, '"t":3735693016', '"t":"x"'), "schema_mismatch"),
                    BadFrame("symbol", replaced(trade, '"BTCUSDT"', '"ETHUSDT"'), "unknown_symbol"),
                    BadFrame("high", replaced(kline, '"h":"13.80760000"', '"h":"1.0"'), "high_below_low")]
        trade, kline = frame("usdm_agg_trade.json"), frame("usdm_kline_closed.json")
        return [*common,
                BadFrame("price", replaced(trade, '"p":"1.01100"', '"p":"abc"'), "bad_number"),
                BadFrame("trade id", replaced(trade, '"a":16599292', '"a":"x"'), "schema_mismatch"),
                BadFrame("symbol", replaced(trade, '"CTKUSDT"', '"ETHUSDT"'), "unknown_symbol"),
                BadFrame("high", replaced(kline, '"h":"7.6180"', '"h":"1.0"'), "high_below_low")]


def _adapter(cls: Any, market: str) -> BinanceAdapter:
    return BinanceAdapter(cls, FakeBinance, market)


ADAPTERS = {"binance-spot": _adapter(BinanceSpotVenue, "spot"), "binance-usdm": _adapter(BinanceUsdmVenue, "usdm")}
