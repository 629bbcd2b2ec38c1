"""MEXC spot (binary protobuf pushes) / USDT-M contracts (JSON) for the venue
contract: no close flag (a window closes when the next starts, or when the
exchange clock passes its end plus a grace: the contract closes windows that
way, ``provenance`` ``inferred``); contract sizes in contracts on the wire,
published in base currency (x ``contractSize``). MEXC's
documented frames under tests/connectors/resources/mexc/, the spot ones encoded
to protobuf by the fake's independent encoder."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import CcxtRest, Connector, MemoryPublisher
from connectors.mexc import MexcFuturesVenue, MexcSpotVenue, config
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
    Step,
    VenueAdapter,
    accepted,
    case,
    paced_limits,
    replaced,
    resource,
)
from tests.connectors.fakes.exchange import CandleRow
from tests.connectors.fakes.mexc import BOOK, DEALS, FakeMexc, encode_push, in_base, push_from_doc

WINDOW = 1736410500  # the documented spot kline's window start (s), a minute boundary


def doc(name: str) -> dict[str, Any]:
    return json.loads(resource("mexc", name))


def text(name: str) -> str:
    return resource("mexc", name)


def spot_kline(minutes: int = 0, sent: int | None = None, **values: str) -> bytes:
    """The documented kline push moved to the Min1 channel, ``minutes`` later."""
    d = copy.deepcopy(doc("spot_kline.json"))
    k = d["publicspotkline"]
    d["channel"] = "spot@public.kline.v3.api.pb@BTCUSDT@Min1"
    k["interval"] = "Min1"
    k["windowstart"] = WINDOW + 60 * minutes
    k["windowend"] = k["windowstart"] + 60
    k.update(values)
    d["createtime"] = sent if sent is not None else (WINDOW + 60 * minutes) * 1000 + 7_571
    return push_from_doc(d)


def contract_kline(minutes: int, ts: int | None = None, **values: float) -> str:
    """The documented contract kline push moved to Min1, ``minutes`` after 1587448800."""
    d = doc("futures_kline.json")
    d["data"]["interval"] = "Min1"
    d["data"]["t"] = 1587448800 + 60 * minutes
    d["data"].update(values)
    d["ts"] = ts if ts is not None else (1587448800 + 60 * minutes) * 1000 + 2_003
    return json.dumps(d)


def _spot_cases() -> list[DecodeCase]:
    deals = encode_push("spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", "publicAggreDeals", {"deals": [
        {"price": "1.5", "quantity": "2", "tradeType": 1, "time": 11, "tradeId": "abc"},
        {"price": "1.4", "quantity": "1", "tradeType": 2, "time": 12}]}, symbol="BTCUSDT", send_time=13)
    return [
        DecodeCase("window closed by the next one", (
            Step(spot_kline(0), received_at=10),  # the window is still open
            Step(spot_kline(0, closingprice="93000.1"), received_at=20),  # a newer snapshot replaces it
            Step(spot_kline(1), (Expect(Candle, {
                "symbol": "BTC/USDT", "open_time": WINDOW * 1000, "close_time": WINDOW * 1000 + 59_999,
                "event_time": WINDOW * 1000 + 7_571, "received_at": 20,  # the last snapshot wins
                "open": 92925.0, "high": 93158.47, "low": 92800.0, "close": 93000.1,
                "volume": 36.83803224, "quote_volume": 3424811.05}),), received_at=30),  # base, quote (as REST)
            Step(spot_kline(0), received_at=40))),  # a late push of a published window: never twice
        case("deals", push_from_doc(doc("spot_aggre_deals.json")), Expect(Tick, {
            "symbol": "BTC/USDT", "price": 93220.0, "qty": 0.04438243, "side": "sell", "event_time": 1736409765051,
            "trade_id": "1736409765051-93220.00-0.04438243-2"}), received_at=7),  # no id on the wire: from the content
        case("deals with and without ids", deals,
             Expect(Tick, {"trade_id": "abc", "side": "buy", "price": 1.5}),
             Expect(Tick, {"trade_id": "12-1.4-1-2", "side": "sell", "price": 1.4})),
        case("book ticker", push_from_doc(doc("spot_aggre_book_ticker.json")), Expect(Quote, {
            "bid": 93387.28, "bid_qty": 3.73485, "ask": 93387.29, "ask_qty": 7.669875, "event_time": 1736412092433}),
             received_at=9),
        case("pong", text("spot_pong.json")),
        case("ack", text("spot_subscribe_ack.json"), accepted(0)),
        case("blocked", text("spot_subscribe_blocked.json"), Expect(SubscribeAck, {
            "ok": False, "detail": Contains("Blocked")})),
        case("error", '{"id":7,"code":400,"msg":"bad"}', Expect(SubscribeAck, {"id": 7, "ok": False}))]


def _futures_cases() -> list[DecodeCase]:
    settle = doc("futures_funding_rate.json")
    settle["data"]["nextSettleTime"] = 1587456000000
    ticker = {"mark_price": 6867.4, "index_price": 6861.6, "event_time": 1587442022003}
    # sizes in base currency: contracts x contractSize (BTC_USDT: 0.0001 BTC)
    return [
        DecodeCase("window closed by the next one", (Step(contract_kline(0)), Step(contract_kline(1), (Expect(Candle, {
            "symbol": "BTC/USDT", "open_time": 1587448800000, "event_time": 1587448802003, "open": 6894.5,
            "high": 6910.5, "low": 6885.0, "close": 6885.0, "volume": 161.1754,  # q: 1611754 contracts
            "quote_volume": 233.740269343644737245}),), received_at=2))),
        case("deal", text("futures_deal.json"), Expect(Tick, {
            "symbol": "BTC/USDT", "price": 6866.5, "qty": 0.2096, "side": "buy", "event_time": 1587442049632,
            "trade_id": "1587442049632-6866.5-2096.0-1"})),  # the derived id keeps MEXC's own numbers
        case("deal list", text("futures_deal_list.json"),
             Expect(Tick, {"trade_id": "16270106116", "side": "buy", "qty": 0.2096}),
             Expect(Tick, {"trade_id": "16270106117", "side": "sell", "qty": 0.0011})),
        case("gzip deal list", gzip.compress(text("futures_deal_list.json").encode()),  # gzip pushes are inflated
             Expect(Tick, {"trade_id": "16270106116"}), Expect(Tick, {"trade_id": "16270106117"})),
        case("depth", text("futures_depth_full.json"), Expect(Quote, {  # 1840 and 3251 contracts
            "bid": 6859.0, "bid_qty": 0.184, "ask": 6859.5, "ask_qty": 0.3251, "event_time": 1587442022003})),
        # the funding push waits for a mark price; the ticker carries both, later pushes merge
        DecodeCase("ticker and funding merge", (
            Step(text("futures_funding_rate.json")),
            Step(text("futures_ticker.json"), (
                Expect(FundingRate, {**ticker, "funding_rate": 0.0008}),
                Expect(OpenInterest, {"symbol": "BTC/USDT", "open_interest": 228.4742,  # holdVol 2284742
                                      "event_time": 1587442022003})), received_at=2),
            Step(json.dumps(settle), (Expect(FundingRate, {
                "mark_price": 6867.4, "index_price": 6861.6, "funding_rate": 0.001,
                "next_funding_time": 1587456000000}),), received_at=3),
            Step(text("futures_ticker.json"), (Expect(FundingRate, {"next_funding_time": 1587456000000}),
                                               Expect(OpenInterest, {})), received_at=4))),
        case("ack", text("futures_sub_ack.json"), accepted(None)),
        case("pong", text("futures_pong.json")),
        case("error", text("futures_error.json"), Expect(SubscribeAck, {"ok": False, "detail": Contains("not exists")}))]


def _bad_spot_frames() -> list[BadFrame]:
    good = push_from_doc(doc("spot_aggre_book_ticker.json"))
    depth = encode_push("spot@public.limit.depth.v3.api.pb@BTCUSDT@5", "publicLimitDepths", b"\x0a\x00",
                        symbol="BTCUSDT", send_time=1)
    other = copy.deepcopy(doc("spot_aggre_book_ticker.json"))
    other["symbol"] = "ETHUSDT"
    crossed = copy.deepcopy(doc("spot_aggre_book_ticker.json"))
    crossed["publicbookticker"]["bidprice"] = "93387.30"
    return [
        BadFrame("truncated body", good[:-4], "malformed_protobuf"),
        BadFrame("length past the end", b"\x0a\xff\xff\xff\xff\x0f", "malformed_protobuf"),
        BadFrame("depth body", depth, "unexpected_stream"),  # a body we do not decode
        BadFrame("empty body", encode_push("spot@x", "publicAggreBookTicker", b"", symbol="BTCUSDT"), "missing_field"),
        BadFrame("symbol", push_from_doc(other), "unknown_symbol"),
        BadFrame("crossed", push_from_doc(crossed), "crossed_quote"),
        BadFrame("infinity", good.replace(b"93387.28", b"Infinity"), "non_finite"),  # same length: valid protobuf
        BadFrame("high", spot_kline(0, highestprice="1"), "high_below_low"),
        BadFrame("Min15", push_from_doc(doc("spot_kline.json")), "unexpected_interval"),
        BadFrame("truncated json", '{"id":0,"code":0,"msg":', "malformed_json"),
        BadFrame("code", '{"id":0,"code":"x"}', "schema_mismatch")]


def _bad_futures_frames() -> list[BadFrame]:
    deal, depth = text("futures_deal.json"), text("futures_depth_full.json")
    return [
        BadFrame("truncated", '{"channel":"push.deal","data":[{"p":1', "malformed_json"),
        BadFrame("no channel", '{"data":1}', "schema_mismatch"),
        BadFrame("price", replaced(deal, '"p": 6866.5', '"p": "x"'), "schema_mismatch"),
        BadFrame("side", replaced(deal, '"T": 1', '"T": 3'), "bad_side"),
        BadFrame("symbol", replaced(deal, '"symbol": "BTC_USDT"', '"symbol": "SOL_USDT"'), "unknown_symbol"),
        # ETH_USDT is subscribed but its contract size was never learnt: never published in contracts
        BadFrame("contract size", replaced(deal, '"symbol": "BTC_USDT"', '"symbol": "ETH_USDT"'),
                 "unknown_contract_size"),
        BadFrame("Min60", text("futures_kline.json"), "unexpected_interval"),
        BadFrame("high", contract_kline(0, h=1.0), "high_below_low"),
        BadFrame("empty book", replaced(depth, '"bids": [[6859.0, 1840, 3], [6858.5, 77, 1]]', '"bids": []'),
                 "empty_book"),
        BadFrame("crossed", replaced(depth, "6859.0", "6860.5"), "crossed_quote"),
        BadFrame("index price", '{"channel":"push.index.price","data":{"price":1},"symbol":"BTC_USDT"}',
                 "unexpected_stream"),
        BadFrame("gzip", b"\x1f\x8b\x08\x00garbage", "malformed_gzip")]


@dataclass
class MexcAdapter(VenueAdapter):
    ws_provenance: str = "inferred"
    closes_on_next_window: bool = True
    decode_symbols: dict[str, str] = field(default_factory=dict)

    def prepare_rest(self, rest: CcxtRest) -> None:
        # ccxt paces by MEXC's weights (exchangeInfo alone waits 1.25 s); test_mexc_connector's
        # ccxt test exercises that pacing, here it would only add idle seconds
        rest.exchange.enableRateLimit = False

    async def close_window(self, fake: FakeMexc, series: Mapping[str, list[CandleRow]], i: int) -> None:
        """A trade a second past minute ``i``'s end plus the grace: the exchange clock closes the window."""
        native, rows = next(iter(series.items()))
        await fake.send_trade(native, rows[i].close, rows[i].close_time + 1 + config.KLINE_CLOSE_GRACE_MS + 1_000)

    def volume(self, row: CandleRow) -> float:
        return in_base(row.volume) if self.fake_market == "futures" else row.volume

    def parse_request(self, text: str) -> Request:
        req = json.loads(text)
        method = str(req.get("method"))
        if self.fake_market == "spot":
            op = {"SUBSCRIPTION": "subscribe", "UNSUBSCRIPTION": "unsubscribe", "PING": "ping"}.get(method, "other")
            return Request(op, tuple(req.get("params") or ()))
        verb, _, kind = method.partition(".")
        if verb in ("sub", "unsub"):
            return Request("subscribe" if verb == "sub" else "unsubscribe", (f"{kind}:{req['param']['symbol']}",))
        return Request("ping" if method == "ping" else "other")

    def malformed(self, fake: FakeMexc, native: str, rows: list[CandleRow]) -> list[Malformed]:
        if self.fake_market == "spot":
            book = BOOK.format(s=native)
            good = fake.quote(native, 1.0, 2.0, rows[1].open_time + 5)[1]
            depth = encode_push(f"spot@public.limit.depth.v3.api.pb@{native}@5", "publicLimitDepths", b"\x0a\x00",
                                symbol=native, send_time=1)
            return [Malformed(book, good[:-3], "malformed_protobuf"),  # the book ticker cut short
                    Malformed(book, good.replace(b"BTCUSDT\x30", b"BTCUSDT\x37"), "malformed_protobuf"),  # wire type 7
                    Malformed(book, good.replace(b"1.5", b"x.5"), "bad_number"),  # valid protobuf, bad number
                    Malformed(DEALS.format(s=native), depth, "unexpected_stream")]  # a body we never subscribed to
        stream = f"deal:{native}"
        deal = fake.wrap(stream, fake.trade(native, 1.0, 0.01, rows[1].open_time + 5, False)[1])
        return [Malformed(stream, deal[:-7], "malformed_json"),
                Malformed(stream, replaced(deal, '"p":1.0', '"p":"NaN?"'), "schema_mismatch"),
                Malformed(stream, replaced(deal, '"T":1', '"T":7'), "bad_side")]

    def limits_case(self) -> LimitsCase:
        if self.fake_market == "spot":  # MEXC's real limits: 30 subscriptions per connection
            return LimitsCase(MexcSpotVenue, {"max_streams_per_connection": 30, "max_msgs_per_second": 12.0},
                              symbols=25, first=3)
        return dataclasses.replace(paced_limits(MexcFuturesVenue, 10, streams_per_subscribe=1), symbols=6, first=3)

    def decode_cases(self) -> list[DecodeCase]:
        return _spot_cases() if self.fake_market == "spot" else _futures_cases()

    def bad_frames(self) -> list[BadFrame]:
        return _bad_spot_frames() if self.fake_market == "spot" else _bad_futures_frames()

    def check_replay(self, fake: FakeMexc, conn: Connector, pub: MemoryPublisher) -> None:
        assert conn.venue.timer_closes >= 1  # type: ignore[attr-defined]
        funding = pub.decoded(topics.FUNDING, FundingRate)
        assert not funding or any(f.next_funding_time is not None for f in funding)


ADAPTERS = {
    "mexc-spot": MexcAdapter(MexcSpotVenue, FakeMexc, "spot", refusal="Blocked", decode_symbols={"BTC/USDT": "BTCUSDT"}),
    "mexc-futures": MexcAdapter(MexcFuturesVenue, FakeMexc, "futures", refusal="not exists", refusals=5,
                                decode_symbols={"BTC/USDT": "BTC_USDT", "ETH/USDT": "ETH_USDT"},
                                contract_sizes={"BTC_USDT": 0.0001}, funding_rate=0.0001, funding_per_minute=2,
                                # holdVol 22030280, sizes 15000 / 20000 / 100 contracts
                                open_interest=2203.028, quote_sizes=(1.5, 2.0), tick_qty=0.01),
}
