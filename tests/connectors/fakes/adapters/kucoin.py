"""KuCoin spot / USDT futures for the venue contract: the websocket endpoint and
token come from REST (``bullet-public``), so only the REST URL points at the
fake; requests ``{"type": "subscribe", "topic": "<prefix>:<a>,<b>"}``; no
close flag (a window closes when the next one starts); futures sizes in
contracts on the wire, published in base currency (x ``multiplier``); KuCoin's
documented frames under tests/connectors/resources/kucoin/."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector, MemoryPublisher, VenueConfig
from connectors.base.venue import Venue
from connectors.kucoin import KucoinFuturesVenue, KucoinSpotVenue
from connectors.records import SubscribeAck
from streams import topics
from streams.records import Candle, FundingRate, Quote, Tick
from tests.connectors.fakes.adapter import (
    BadFrame,
    Contains,
    DecodeCase,
    Expect,
    LimitsCase,
    Malformed,
    Request,
    Step,
    VenueAdapter,
    accepted,
    case,
    paced_limits,
    replaced,
    resource,
)
from tests.connectors.fakes.exchange import CandleRow
from tests.connectors.fakes.kucoin import FakeKucoin, in_base


def frame(name: str) -> str:
    return resource("kucoin", name)


def shifted(raw: str, minutes: int, **values: str) -> str:
    """The same kline push for a window ``minutes`` later (and other candle values)."""
    msg = json.loads(raw)
    c = msg["data"]["candles"]
    c[0] = str(int(c[0]) + 60 * minutes)
    for i, key in enumerate(("open", "close", "high", "low"), start=1):
        if key in values:
            c[i] = values[key]
    return json.dumps(msg)


def _acks() -> list[DecodeCase]:
    return [case("welcome", frame("welcome.json")), case("pong", frame("pong.json")),
            case("ack", frame("ack.json"), accepted(1545910660739)),
            case("error", frame("error.json"), Expect(SubscribeAck, {
                "id": 1545910660740, "ok": False, "detail": Contains("404")})),
            case("error says why", frame("error.json"), Expect(SubscribeAck, {"detail": Contains("not found")}))]


@dataclass
class KucoinAdapter(VenueAdapter):
    closes_on_next_window: bool = True
    ws_provenance: str = "inferred"  # no close flag: the next window closes a candle
    decode_symbols: dict[str, str] = field(default_factory=dict)

    def venue_config(self, fake: FakeKucoin, cls: type[Venue]) -> VenueConfig:
        # only the REST URL points at the fake: the websocket endpoint comes from bullet-public
        return VenueConfig(cls.default_ws_url, fake.rest_url, channels=cls().config.channels)

    async def close_window(self, fake: FakeKucoin, series: Mapping[str, list[CandleRow]], i: int) -> None:
        for native, rows in series.items():
            await fake.open_window(native, rows[i + 1])  # the next window's first push closes window i

    def volume(self, row: CandleRow) -> float:
        return in_base(row.volume) if self.fake_market == "futures" else row.volume

    def parse_request(self, text: str) -> Request:
        req = json.loads(text)
        kind = req.get("type")
        if kind in ("subscribe", "unsubscribe"):
            prefix, _, args = req["topic"].partition(":")
            return Request(kind, tuple(f"{prefix}:{a}" for a in args.split(",")))
        return Request("ping" if kind == "ping" else "other")

    def malformed(self, fake: FakeKucoin, native: str, rows: list[CandleRow]) -> list[Malformed]:
        topic = fake.kline_topic(native)
        truncated = f'{{"type":"message","topic":"{topic}","data":{{"candles":["1'
        bad_price = replaced(fake.wrap(topic, fake.candle_push(native, rows[0], 1)), f'"{rows[0].open:.8f}"', '"NaN?"')
        return [Malformed(topic, truncated, "malformed_json"),
                Malformed(topic, bad_price, "bad_number", names_symbol=True)]

    def limits_case(self) -> LimitsCase:
        return paced_limits(self.venue_cls, 6 if self.fake_market == "spot" else 8)

    def decode_cases(self) -> list[DecodeCase]:
        if self.fake_market == "spot":
            first = frame("spot_candles_1min.json")
            return [
                *_acks(),
                DecodeCase("window closed by the next one", (
                    Step(first, received_at=10),  # the window is still open
                    Step(shifted(first, 0, close="67500.1"), received_at=20),  # a newer snapshot replaces it
                    Step(shifted(first, 1), (Expect(Candle, {
                        "symbol": "BTC/USDT", "open_time": 1729839600000, "close_time": 1729839659999,
                        "event_time": 1729842192785, "received_at": 20,  # the last snapshot wins
                        "open": 67644.9, "close": 67500.1, "high": 67724.8, "low": 67243.8, "volume": 44.88321441,
                        "quote_volume": 3027558.991928447}),), received_at=30))),
                case("match", frame("spot_match.json"), Expect(Tick, {
                    "symbol": "BTC/USDT", "trade_id": "11067996711960577", "price": 67523.0, "qty": 0.003,
                    "side": "buy", "event_time": 1729843222921}), received_at=7),
                case("ticker", frame("spot_ticker.json"), Expect(Quote, {
                    "bid": 0.049, "bid_qty": 0.036, "ask": 0.08, "ask_qty": 0.18, "event_time": 1704873323416}),
                     received_at=99)]
        candle = frame("futures_limit_candle.json")
        return [
            *_acks(),
            # KuCoin futures: [start, open, close, high, low, turnover, volume in contracts]; sizes are
            # published in base currency: contracts x multiplier (XBTUSDTM: 0.001 BTC)
            DecodeCase("window closed by the next one", (Step(candle), Step(shifted(candle, 1), (Expect(Candle, {
                "symbol": "BTC/USDT", "open_time": 1790993280000, "event_time": 1790993360463, "open": 84568.3,
                "close": 84556.7, "high": 84568.3, "low": 84544.2, "volume": 12.785,  # 12785 contracts
                "quote_volume": 1080991.7836}),), received_at=2))),
            case("execution", frame("futures_execution.json"), Expect(Tick, {
                "symbol": "BTC/USDT", "trade_id": "1794100537695", "price": 90503.9, "qty": 0.002, "side": "buy",
                "event_time": 1731898619520}), received_at=7),
            case("tickerV2", frame("futures_ticker_v2.json"), Expect(Quote, {
                "bid": 86454.5, "bid_qty": 5.044, "ask": 86454.6, "ask_qty": 0.073, "event_time": 1740641976241}),
                 received_at=99),
            # funding and mark arrive as separate pushes: nothing until a mark price is known
            DecodeCase("instrument pushes merge", (Step(frame("futures_instrument_funding.json")), Step(
                frame("futures_instrument_mark.json"), (Expect(FundingRate, {
                    "symbol": "BTC/USDT", "mark_price": 90445.02, "index_price": 90445.02,
                    "funding_rate": -0.002966, "event_time": 1731899129000}),), received_at=2)))]

    def bad_frames(self) -> list[BadFrame]:
        if self.fake_market == "spot":
            match, candles = frame("spot_match.json"), frame("spot_candles_1min.json")
            return [
                BadFrame("truncated", '{"type":"message","topic":"/market/match:BTC-USDT","data":{"price":',
                         "malformed_json"),
                BadFrame("level1", frame("spot_level1.json"), "unexpected_stream"),
                BadFrame("1hour", frame("spot_candles_1hour.json"), "unexpected_interval"),
                BadFrame("price", replaced(match, '"price":"67523"', '"price":"x1"'), "bad_number"),
                BadFrame("trade id", replaced(match, '"tradeId":"11067996711960577"', '"tradeId":5'), "schema_mismatch"),
                BadFrame("symbol", replaced(match, '"symbol":"BTC-USDT"', '"symbol":"ETH-USDT"'), "unknown_symbol"),
                BadFrame("high", replaced(candles, '"67724.8"', '"1.0"'), "high_below_low"),
                BadFrame("notice", '{"type":"notice"}', "unexpected_frame"),
                BadFrame("no type", '{"hello":1}', "schema_mismatch")]
        execution, candle = frame("futures_execution.json"), frame("futures_limit_candle.json")
        return [
            BadFrame("truncated", '{"type":"message","topic":"/contractMarket/execution:XBTUSDTM","data":{"price":',
                     "malformed_json"),
            BadFrame("level1", frame("spot_level1.json"), "unexpected_stream"),
            BadFrame("price", replaced(execution, '"price":"90503.9"', '"price":"x1"'), "bad_number"),
            BadFrame("trade id", replaced(execution, '"tradeId":"1794100537695"', '"tradeId":5'), "schema_mismatch"),
            BadFrame("symbol", replaced(execution, "XBTUSDTM", "SOLUSDTM"), "unknown_symbol"),
            BadFrame("high", replaced(candle, '"84556.7","84568.3"', '"84556.7","1.0"'), "high_below_low"),
            # ETHUSDTM is subscribed but its contract size was never learnt: never published in contracts
            BadFrame("contract size", replaced(execution, "XBTUSDTM", "ETHUSDTM"), "unknown_contract_size"),
            BadFrame("no type", '{"hello":1}', "schema_mismatch")]

    def check_replay(self, fake: FakeKucoin, conn: Connector, pub: MemoryPublisher) -> None:
        assert all(f.mark_price == f.index_price for f in pub.decoded(topics.FUNDING, FundingRate))


def _adapter(cls: Any, market: str, symbols: dict[str, str], **kw: Any) -> KucoinAdapter:
    return KucoinAdapter(cls, FakeKucoin, market, decode_symbols=symbols, **kw)


ADAPTERS = {"kucoin-spot": _adapter(KucoinSpotVenue, "spot", {"BTC/USDT": "BTC-USDT"}),
            "kucoin-futures": _adapter(KucoinFuturesVenue, "futures", {"BTC/USDT": "XBTUSDTM", "ETH/USDT": "ETHUSDTM"},
                                       funding_rate=0.0001, first_funding_rate_missing=True, funding_per_minute=2,
                                       quote_sizes=(1.5, 2.0), tick_qty=0.01,  # 1500, 2000, 10 contracts
                                       contract_sizes={"XBTUSDTM": 0.001})}
