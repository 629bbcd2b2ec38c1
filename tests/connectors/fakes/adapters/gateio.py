"""Gate.io v4 spot / USDT futures for the venue contract: requests ``{"channel",
"event", "payload"}`` (candlesticks one ``[interval, pair]`` each), close flag
``w``, futures sizes in contracts on the wire, published in base currency
(x ``quanto_multiplier``); Gate's documented frames under
tests/connectors/resources/gateio/."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from connectors.gateio import GateioFuturesVenue, GateioSpotVenue
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, OpenInterest, Quote, Tick
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
from tests.connectors.fakes.exchange import CandleRow
from tests.connectors.fakes.gateio import FakeGateio, in_base


def frame(name: str) -> str:
    return resource("gateio", name)


def _symbols() -> dict[str, str]:
    return {"BTC/USDT": "BTC_USDT", "GT/USDT": "GT_USDT", "BTC/USD": "BTC_USD"}


@dataclass
class GateioAdapter(VenueAdapter):
    decode_symbols: dict[str, str] = field(default_factory=_symbols)

    def volume(self, row: CandleRow) -> float:
        return in_base(row.volume) if self.fake_market == "futures" else row.volume

    def parse_request(self, text: str) -> Request:
        req = json.loads(text)
        channel, event, payload = req.get("channel", ""), req.get("event"), req.get("payload") or []
        if channel.endswith(".ping"):
            return Request("ping")
        if event not in ("subscribe", "unsubscribe"):
            return Request("other")
        if channel.endswith(".candlesticks"):
            interval, pair = payload
            return Request(event, (f"{channel}:{interval}_{pair}",))
        return Request(event, tuple(f"{channel}:{p}" for p in payload))

    def malformed(self, fake: FakeGateio, native: str, rows: list[CandleRow]) -> list[Malformed]:
        channel = f"{self.fake_market}.candlesticks"
        stream = f"{channel}:1m_{native}"
        truncated = f'{{"time":1,"time_ms":1000,"channel":"{channel}","event":"update","result":{{"t":'
        bad_price = replaced(fake.wrap(stream, fake.candlestick(native, rows[0], closed=True)),
                             f'"o":"{rows[0].open:.8f}"', '"o":"NaN?"')
        return [Malformed(stream, truncated, "malformed_json"),
                Malformed(stream, bad_price, "bad_number", names_symbol=True)]

    def limits_case(self) -> LimitsCase:
        return paced_limits(self.venue_cls, 6 if self.fake_market == "spot" else 8)

    def decode_cases(self) -> list[DecodeCase]:
        if self.fake_market == "spot":
            return [
                case("closed candlestick", frame("spot_candlestick_closed.json"), Expect(Candle, {
                    "symbol": "BTC/USDT", "open_time": 1606292580000, "close_time": 1606292639999,
                    "event_time": 1606292600376, "received_at": 1606292600400, "open": 19128.1, "high": 19128.1,
                    "low": 19128.1, "close": 19128.1,
                    "volume": 3.8283, "quote_volume": 2362.32035}),  # a = base amount, v = quote volume
                     received_at=1606292600400),
                case("open candlestick", frame("spot_candlestick_open.json")),
                case("trade", frame("spot_trade.json"), Expect(Tick, {
                    "symbol": "GT/USDT", "trade_id": "309143071", "price": 0.4705, "qty": 16.47, "side": "sell",
                    "event_time": 1606292218213}), received_at=7),
                case("book_ticker", frame("spot_book_ticker.json"), Expect(Quote, {
                    "symbol": "BTC/USDT", "bid": 19177.79, "bid_qty": 0.0003341504, "ask": 19179.38, "ask_qty": 0.09,
                    "event_time": 1606293275123}), received_at=99),
                case("ack", frame("spot_subscribe_ack.json"), accepted(7)),
                case("error", frame("spot_subscribe_error.json"), Expect(SubscribeAck, {
                    "id": 8, "ok": False, "detail": Contains("Invalid argument")})),
                case("error names the channel", frame("spot_subscribe_error.json"),
                     Expect(SubscribeAck, {"detail": Contains("spot.candlesticks")})),
                case("pong", frame("spot_pong.json"))]
        market_trade = json.loads(frame("futures_trade_internal.json"))
        del market_trade["result"][0]["is_internal"]
        return [
            # the push carries the running and the closed point of one window: only the closed one counts
            # sizes in base currency: contracts x quanto_multiplier (BTC_USDT 0.0001, BTC_USD 0.01 here)
            case("candlesticks", frame("futures_candlesticks.json"), Expect(Candle, {
                "symbol": "BTC/USDT", "open_time": 1545129300000, "event_time": 1542162490123, "open": 94.3,
                "high": 96.9, "low": 89.5, "close": 95.4, "volume": 2752.5555}), received_at=5),  # v=27525555
            case("open candlestick", replaced(frame("futures_candlesticks.json"), '"w":true', '"w":false')),
            # an insurance-fund takeover is no market trade; without the flag it is one (size < 0: a sell)
            case("internal trade", frame("futures_trade_internal.json")),
            case("trade", json.dumps(market_trade), Expect(Tick, {
                "symbol": "BTC/USD", "trade_id": "27753479", "price": 96.4, "qty": 1.08, "side": "sell",  # -108
                "event_time": 1545136464123}), received_at=9),
            case("book_ticker", frame("futures_book_ticker.json"), Expect(Quote, {
                "bid": 54696.6, "bid_qty": 370.0, "ask": 54696.7, "ask_qty": 470.61, "event_time": 1615366379123}),
                 received_at=99),
            case("tickers", frame("futures_tickers.json"), Expect(FundingRate, {
                "symbol": "BTC/USD", "mark_price": 118.35, "index_price": 118.36, "funding_rate": -0.000114,
                "event_time": 1541659086123}), Expect(OpenInterest, {
                    "symbol": "BTC/USD", "open_interest": 736.48, "event_time": 1541659086123})),  # 73648
            case("ack", frame("futures_subscribe_ack.json"), accepted(None)),
            case("error", replaced(frame("spot_subscribe_error.json"), '"spot.candlesticks"', '"futures.candlesticks"'),
                 Expect(SubscribeAck, {"id": 8, "ok": False, "detail": Contains("Invalid argument")}))]

    def bad_frames(self) -> list[BadFrame]:
        if self.fake_market == "spot":
            trade, candle = frame("spot_trade.json"), frame("spot_candlestick_closed.json")
            return [
                BadFrame("truncated", '{"time":1606292600,"channel":"spot.candlesticks","event":"update","result":{"t":',
                         "malformed_json"),
                BadFrame("order book", frame("spot_order_book_update.json"), "unexpected_stream"),
                BadFrame("price", replaced(trade, '"price":"0.4705000000"', '"price":"abc"'), "bad_number"),
                BadFrame("trade id", replaced(trade, '"id":309143071', '"id":"x"'), "schema_mismatch"),
                BadFrame("symbol", replaced(trade, '"GT_USDT"', '"ETH_USDT"'), "unknown_symbol"),
                BadFrame("high", replaced(candle, '"h":"19128.1"', '"h":"1.0"'), "high_below_low"),
                BadFrame("interval", replaced(candle, '"1m_BTC_USDT"', '"5m_BTC_USDT"'), "unexpected_interval"),
                BadFrame("empty bid", replaced(frame("spot_book_ticker.json"), '"b":"19177.79"', '"b":""'),
                         "empty_book_side"),
                BadFrame("event", '{"time":1,"channel":"spot.trades","event":"weird"}', "unexpected_frame"),
                BadFrame("no channel", '{"hello":1}', "schema_mismatch")]
        book, candle = frame("futures_book_ticker.json"), frame("futures_candlesticks.json")
        return [
            BadFrame("truncated", '{"time":1,"channel":"futures.candlesticks","event":"update","result":[{"t":',
                     "malformed_json"),
            BadFrame("order book", replaced(frame("spot_order_book_update.json"), '"spot.order_book_update"',
                                            '"futures.order_book_update"'), "unexpected_stream"),
            BadFrame("price", replaced(book, '"b":"54696.6"', '"b":"abc"'), "bad_number"),
            BadFrame("time", replaced(book, '"t":1615366379123', '"t":"x"'), "schema_mismatch"),
            BadFrame("symbol", replaced(book, '"BTC_USD"', '"ETH_USD"'), "unknown_symbol"),
            BadFrame("high", replaced(candle, '"h":"96.9"', '"h":"1.0"'), "high_below_low"),
            # GT_USDT is subscribed but its contract size was never learnt: never published in contracts
            BadFrame("contract size", replaced(book, '"BTC_USD"', '"GT_USDT"'), "unknown_contract_size"),
            BadFrame("no channel", '{"hello":1}', "schema_mismatch")]


def _adapter(cls: Any, market: str, **kw: Any) -> GateioAdapter:
    return GateioAdapter(cls, FakeGateio, market, **kw)


ADAPTERS = {"gateio-spot": _adapter(GateioSpotVenue, "spot"),
            "gateio-futures": _adapter(GateioFuturesVenue, "futures", funding_rate=0.0001, open_interest=12.3456,
                                       quote_sizes=(1.5, 2.0), tick_qty=0.01,  # 15000, 20000, 100 contracts
                                       contract_sizes={"BTC_USDT": 0.0001, "BTC_USD": 0.01})}
