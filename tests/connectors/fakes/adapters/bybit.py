"""Bybit v5 spot / linear for the venue contract: ``op`` subscribe / unsubscribe
with ``args``, close flag ``confirm``, funding and open interest from
``tickers``; captured frames under tests/connectors/resources/bybit/."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector, MemoryPublisher
from connectors.bybit import BybitLinearVenue, BybitSpotVenue
from connectors.records import SubscribeAck
from streams import topics
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
from tests.connectors.fakes.bybit import FakeBybit
from tests.connectors.fakes.exchange import CandleRow


def frame(name: str) -> str:
    return resource("bybit", name)


def _symbols() -> dict[str, str]:
    return {"BTC/USDT": "BTCUSDT", "ETH/USDT": "ETHUSDT", "SOL/USDT": "SOLUSDT"}


@dataclass
class BybitAdapter(VenueAdapter):
    decode_symbols: dict[str, str] = field(default_factory=_symbols)
    refusal: str | None = "handler not found"

    def parse_request(self, text: str) -> Request:
        req = json.loads(text)
        op = req.get("op")
        return Request(op if op in ("subscribe", "unsubscribe", "ping") else "other", tuple(req.get("args") or ()))

    def malformed(self, fake: FakeBybit, native: str, rows: list[CandleRow]) -> list[Malformed]:
        topic = f"kline.1.{native}"
        truncated = '{"topic":"' + topic + '","data":[{"start":1'
        open_price = fake.kline_entry(rows[0], confirm=True, timestamp=1)["open"]
        bad_price = replaced(fake.wrap(topic, fake.kline_payload(rows[0], confirm=True, ts=1)),
                             f'"open":"{open_price}"', '"open":"NaN?"')
        return [Malformed(topic, truncated, "malformed_json"),
                Malformed(topic, bad_price, "bad_number", names_symbol=True)]

    def limits_case(self) -> LimitsCase:
        if self.fake_market == "spot":  # Bybit's own 10 args per spot request
            case = paced_limits(BybitSpotVenue, 6, streams_per_subscribe=BybitSpotVenue.limits.streams_per_subscribe)
            return dataclasses.replace(case, fake_kwargs=case.fake_kwargs | {"max_args_per_request": 10})
        case = paced_limits(BybitLinearVenue, 8)
        return dataclasses.replace(case, fake_kwargs=case.fake_kwargs | {"max_args_per_request": 1})

    def decode_cases(self) -> list[DecodeCase]:
        acks = [case("spot ack", frame("spot_subscribe_ack.json"), accepted(None)),
                case("linear ack", frame("linear_subscribe_ack.json"), accepted(None)),
                case("ack with req_id", '{"success":true,"ret_msg":"subscribe","conn_id":"x","req_id":"12","op":"subscribe"}',
                     accepted(12)),
                case("pong", frame("pong.json")),
                case("error", frame("subscribe_error.json"),
                     Expect(SubscribeAck, {"id": 3, "ok": False, "detail": Contains("handler not found")}))]
        if self.fake_market == "spot":
            return [*acks,
                    case("closed kline", frame("spot_kline_closed.json"), Expect(Candle, {
                        "symbol": "BTC/USDT", "open_time": 1786310760000, "close_time": 1786310819999,
                        "event_time": 1786310820563, "received_at": 1786310820600, "open": 65140.4, "high": 65140.5,
                        "low": 65140.4, "close": 65140.5, "volume": 0.15388, "quote_volume": 10023.8067889}),
                         received_at=1786310820600),
                    case("open kline", frame("spot_kline_open.json")),
                    case("publicTrade", frame("spot_public_trade.json"), Expect(Tick, {
                        "symbol": "ETH/USDT", "trade_id": "2280000001739247417", "price": 1923.28, "qty": 0.04537,
                        "side": "sell", "event_time": 1786310821917}), received_at=7),
                    case("orderbook.1 snapshot", frame("spot_orderbook1_snapshot.json"), Expect(Quote, {
                        "symbol": "BTC/USDT", "bid": 65140.4, "bid_qty": 0.885797, "ask": 65140.5,
                        "ask_qty": 0.472203, "event_time": 1786310816512}), received_at=99)]
        return [*acks,
                # the captured closing push carries the closed ETHUSDT minute and the new open one
                case("closing push", frame("linear_kline_closed.json"), Expect(Candle, {
                    "symbol": "ETH/USDT", "open_time": 1786310760000, "event_time": 1786310820123, "open": 1922.43,
                    "high": 1922.48, "low": 1922.42, "close": 1922.48, "volume": 15.7, "quote_volume": 30182.0724}),
                     received_at=5),
                case("open kline", frame("linear_kline_open.json")),
                case("publicTrade", frame("linear_public_trade.json"), Expect(Tick, {
                    "symbol": "BTC/USDT", "trade_id": "a9188a0a-82bc-50de-be60-03eedbe3cdd7", "price": 65114.2,
                    "qty": 0.004, "side": "sell", "event_time": 1786310819680}), received_at=7),
                case("orderbook.1 snapshot", frame("linear_orderbook1_snapshot.json"), Expect(Quote, {
                    "bid": 65114.2, "bid_qty": 6.054, "ask": 65114.3, "ask_qty": 10.486, "event_time": 1786310818027})),
                case("tickers snapshot", frame("linear_tickers_snapshot.json"), Expect(FundingRate, {
                    "symbol": "BTC/USDT", "mark_price": 65117.44, "index_price": 65137.76, "funding_rate": 0.0001,
                    "next_funding_time": 1786320000000, "event_time": 1786310817583}), Expect(OpenInterest, {
                        "symbol": "BTC/USDT", "open_interest": 59891.732, "open_interest_value": 3899996265.01,
                        "event_time": 1786310817583}))]

    def bad_frames(self) -> list[BadFrame]:
        common = [BadFrame("truncated", '{"topic":"kline.1.BTCUSDT","data":[{"start":', "malformed_json"),
                  BadFrame("orderbook.200", frame("spot_orderbook200_delta.json"), "unexpected_stream"),
                  BadFrame("no topic", '{"hello":1}', "unexpected_frame"),
                  BadFrame("not an object", "[1,2]", "schema_mismatch")]
        if self.fake_market == "spot":
            trade, kline = frame("spot_public_trade.json"), frame("spot_kline_closed.json")
            return [*common,
                    BadFrame("price", replaced(trade, '"p":"1923.28"', '"p":"abc"'), "bad_number"),
                    BadFrame("time", replaced(trade, '"T":1786310821917', '"T":"x"'), "schema_mismatch"),
                    BadFrame("symbol", replaced(trade, '"ETHUSDT"', '"XRPUSDT"'), "unknown_symbol"),
                    BadFrame("high", replaced(kline, '"high":"65140.5"', '"high":"1.0"'), "high_below_low"),
                    BadFrame("interval", replaced(kline, '"interval":"1"', '"interval":"5"'), "unexpected_interval"),
                    BadFrame("side", replaced(trade, '"S":"Sell"', '"S":"Hold"'), "bad_side"),
                    # spot streams no tickers
                    BadFrame("tickers on spot", frame("linear_tickers_snapshot.json"), "unexpected_stream")]
        trade, kline = frame("linear_public_trade.json"), frame("linear_kline_closed.json")
        return [*common,
                BadFrame("price", replaced(trade, '"p":"65114.20"', '"p":"abc"'), "bad_number"),
                BadFrame("time", replaced(trade, '"T":1786310819680', '"T":"x"'), "schema_mismatch"),
                BadFrame("symbol", replaced(trade, '"BTCUSDT"', '"XRPUSDT"'), "unknown_symbol"),
                BadFrame("high", replaced(kline, '"high":"1922.48","low":"1922.42"', '"high":"1.0","low":"1922.42"'),
                         "high_below_low")]

    def check_replay(self, fake: FakeBybit, conn: Connector, pub: MemoryPublisher) -> None:
        assert all(f.next_funding_time for f in pub.decoded(topics.FUNDING, FundingRate))


def _adapter(cls: Any, category: str, **kw: Any) -> BybitAdapter:
    return BybitAdapter(cls, FakeBybit, category, **kw)


ADAPTERS = {"bybit-spot": _adapter(BybitSpotVenue, "spot"),
            "bybit-linear": _adapter(BybitLinearVenue, "linear", funding_rate=0.0001, open_interest=59891.732)}
