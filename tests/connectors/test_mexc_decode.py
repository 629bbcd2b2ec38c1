"""MEXC frames (MEXC's documented examples; spot ones encoded to binary protobuf
by an encoder independent of the ``protobuf`` package) decode into the right
records; a kline window is published only when the next window starts or the
exchange clock passes its end plus the grace, never twice and never across a
resubscription; bad frames, corrupt protobuf included, raise RecordError with
a reason; subscriptions are built as MEXC documents them."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.mexc import MexcFuturesVenue, MexcSpotVenue, config
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, OpenInterest, Quote, RecordError, Tick
from tests.connectors.fakes.mexc import encode_push, push_from_doc

RES = Path(__file__).parent / "resources" / "mexc"
pytestmark = pytest.mark.unit

WINDOW = 1736410500  # the documented kline's window start (s), a minute boundary
LATER = 1_800_000_000_000  # a local receive time after every exchange time used here


def doc(name: str) -> dict[str, Any]:
    return json.loads((RES / name).read_text())


def text(name: str) -> str:
    return (RES / name).read_text().strip()


def spot() -> MexcSpotVenue:
    v = MexcSpotVenue()
    v.set_symbol_map({"BTC/USDT": "BTCUSDT"})
    return v


def futures() -> MexcFuturesVenue:
    v = MexcFuturesVenue()
    v.set_symbol_map({"BTC/USDT": "BTC_USDT"})
    return v


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


def book_at(sent: int) -> bytes:
    d = doc("spot_aggre_book_ticker.json")
    d["sendtime"] = sent
    return push_from_doc(d)


def test_protobuf_field_numbers_match_hand_assembled_bytes() -> None:
    """Bytes assembled by hand from MEXC's published numbers: channel (1),
    symbol (3), sendTime (6), publicAggreBookTicker (315) {bidPrice 1 ...}."""
    def ld(tag: bytes, payload: bytes) -> bytes:
        return tag + bytes([len(payload)]) + payload
    body = ld(b"\x0a", b"1.5") + ld(b"\x12", b"2") + ld(b"\x1a", b"1.6") + ld(b"\x22", b"3")
    channel = b"spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT"
    frame = (ld(b"\x0a", channel) + ld(b"\x1a", b"BTCUSDT") + b"\x30" + bytes([0x80, 0xD4, 0xEB, 0xD0, 0xE4, 0x32])
             + b"\xda\x13" + bytes([len(body)]) + body)  # field 315, wire type 2: (315 << 3 | 2) = 0x9da
    (q,) = spot().parse_frame(frame, 5)
    assert (q.symbol, q.bid, q.bid_qty, q.ask, q.ask_qty) == ("BTC/USDT", 1.5, 2.0, 1.6, 3.0)
    assert q.event_time == 1_745_000_000_000 and q.received_at == 5


def test_spot_window_published_when_the_next_window_starts() -> None:
    v = spot()
    assert v.parse_frame(spot_kline(0), 10) == []  # the window is still open
    assert v.parse_frame(spot_kline(0, closingprice="93000.1"), 20) == []  # a newer snapshot replaces it
    (c,) = v.parse_frame(spot_kline(1), 30)
    assert isinstance(c, Candle)
    assert (c.exchange, c.market, c.symbol, c.tf, c.provenance) == ("mexc", "spot", "BTC/USDT", "1m", "inferred")
    assert (c.open_time, c.close_time, c.event_time, c.received_at) == (WINDOW * 1000, WINDOW * 1000 + 59_999,
                                                                        WINDOW * 1000 + 7_571, 20)
    assert (c.open, c.high, c.low, c.close) == (92925.0, 93158.47, 92800.0, 93000.1)  # the last snapshot wins
    assert (c.volume, c.quote_volume) == (36.83803224, 3424811.05)  # base, quote (as REST klines)
    assert v.parse_frame(spot_kline(0), 40) == [] and v.late_kline_pushes == 1  # never published twice


def test_spot_timer_closes_a_quiet_window_on_the_exchange_clock() -> None:
    v = spot()
    end = (WINDOW + 60) * 1000
    assert v.parse_frame(spot_kline(0), LATER) == []
    assert v.parse_frame(book_at(end + config.KLINE_CLOSE_GRACE_MS - 1), LATER)[0].bid == 93387.28  # not yet due
    out = v.parse_frame(book_at(end + config.KLINE_CLOSE_GRACE_MS), LATER)
    assert [type(r) for r in out] == [Quote, Candle] and out[1].open_time == WINDOW * 1000
    assert v.timer_closes == 1 and v.exchange_clock == end + config.KLINE_CLOSE_GRACE_MS
    assert v.parse_frame(spot_kline(1), LATER) == []  # the next window does not close the first one again
    assert v.parse_frame(spot_kline(0, sent=end + 3_500), LATER) == [] and v.late_kline_pushes == 1


def test_a_send_time_far_ahead_of_our_clock_is_not_believed() -> None:
    v = spot()
    assert v.parse_frame(spot_kline(0), LATER) == []
    received = (WINDOW + 60) * 1000  # our clock says the window just ended
    assert len(v.parse_frame(book_at(received + 120_000), received)) == 1  # a quote, no candle
    assert v.timer_closes == 0 and v.exchange_clock == WINDOW * 1000 + 7_571
    assert len(v.parse_frame(book_at(received + 59_000), received)) == 2  # within a minute: believed


def test_a_frame_that_fails_to_decode_does_not_move_the_clock() -> None:
    v = spot()
    v.parse_frame(spot_kline(0), LATER)
    bad = book_at((WINDOW + 600) * 1000)
    bad = bad.replace(b"93387.28", b"9x387.28")
    with pytest.raises(RecordError) as info:
        v.parse_frame(bad, LATER)
    assert info.value.reason == "bad_number" and v.exchange_clock < (WINDOW + 60) * 1000
    assert base64.b64encode(bad).decode() in info.value.detail  # the exact bytes survive in the dead letter
    (c,) = v.parse_frame(spot_kline(1), LATER)
    assert c.open_time == WINDOW * 1000


def test_resubscribing_forgets_an_open_window() -> None:
    """A window seen before a reconnect may miss pushes: it is left to REST."""
    v = spot()
    assert v.parse_frame(spot_kline(0), 1) == []
    v.subscribe_messages(v.streams_for("BTC/USDT"), 1)  # what a reconnect sends
    assert v.parse_frame(spot_kline(1), 2) == []
    (c,) = v.parse_frame(spot_kline(2), 3)
    assert c.open_time == (WINDOW + 60) * 1000


def test_spot_deals_and_book_ticker() -> None:
    v = spot()
    (t,) = v.parse_frame(push_from_doc(doc("spot_aggre_deals.json")), 7)
    assert isinstance(t, Tick)
    assert (t.symbol, t.price, t.qty, t.side, t.event_time, t.received_at) == ("BTC/USDT", 93220.0, 0.04438243,
                                                                               "sell", 1736409765051, 7)
    assert t.trade_id == "1736409765051-93220.00-0.04438243-2"  # no id on the wire: derived from the content
    frame = encode_push("spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", "publicAggreDeals", {"deals": [
        {"price": "1.5", "quantity": "2", "tradeType": 1, "time": 11, "tradeId": "abc"},
        {"price": "1.4", "quantity": "1", "tradeType": 2, "time": 12}]}, symbol="BTCUSDT", send_time=13)
    assert [(t.trade_id, t.side, t.price) for t in v.parse_frame(frame, 1)] == [("abc", "buy", 1.5),
                                                                                (f"12-1.4-1-{2}", "sell", 1.4)]
    (q,) = v.parse_frame(push_from_doc(doc("spot_aggre_book_ticker.json")), 9)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == (93387.28, 3.73485, 93387.29, 7.669875,
                                                                   1736412092433)


def test_spot_responses() -> None:
    v = spot()
    assert v.parse_frame(text("spot_pong.json"), 1) == []
    assert v.parse_frame(text("spot_subscribe_ack.json"), 1) == [SubscribeAck(0)]
    (err,) = v.parse_frame(text("spot_subscribe_blocked.json"), 1)
    assert not err.ok and "Blocked" in err.detail
    (err,) = v.parse_frame('{"id":7,"code":400,"msg":"bad"}', 1)
    assert (err.id, err.ok) == (7, False)


def _bad_spot_frames() -> list[tuple[Any, str]]:
    good = push_from_doc(doc("spot_aggre_book_ticker.json"))
    depth = encode_push("spot@public.limit.depth.v3.api.pb@BTCUSDT@5", "publicLimitDepths", b"\x0a\x00",
                        symbol="BTCUSDT", send_time=1)
    other = copy.deepcopy(doc("spot_aggre_book_ticker.json"))
    other["symbol"] = "ETHUSDT"
    crossed = copy.deepcopy(doc("spot_aggre_book_ticker.json"))
    crossed["publicbookticker"]["bidprice"] = "93387.30"
    return [
        (good[:-4], "malformed_protobuf"),  # truncated inside the body
        (b"\x0a\xff\xff\xff\xff\x0f", "malformed_protobuf"),  # a length far past the end
        (depth, "unexpected_stream"),  # a body we do not decode
        (encode_push("spot@x", "publicAggreBookTicker", b"", symbol="BTCUSDT"), "missing_field"),  # empty body
        (push_from_doc(other), "unknown_symbol"),
        (push_from_doc(crossed), "crossed_quote"),
        (good.replace(b"93387.28", b"Infinity"), "non_finite"),  # same length: still valid protobuf
        (spot_kline(0, highestprice="1"), "high_below_low"),
        (push_from_doc(doc("spot_kline.json")), "unexpected_interval"),  # Min15
        ('{"id":0,"code":0,"msg":', "malformed_json"),
        ('{"id":0,"code":"x"}', "schema_mismatch"),
    ]


@pytest.mark.parametrize(("raw", "reason"), _bad_spot_frames())
def test_bad_spot_frames_raise_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        spot().parse_frame(raw, 1)
    assert info.value.reason == reason, info.value.detail


# ---- contracts -------------------------------------------------------------------------

def contract_kline(minutes: int, ts: int | None = None, **values: float) -> str:
    d = doc("futures_kline.json")
    d["data"]["interval"] = "Min1"
    d["data"]["t"] = 1587448800 + 60 * minutes
    d["data"].update(values)
    d["ts"] = ts if ts is not None else (1587448800 + 60 * minutes) * 1000 + 2_003
    return json.dumps(d)


def test_contract_kline_closes_on_next_window_and_on_the_timer() -> None:
    v = futures()
    assert v.parse_frame(contract_kline(0), 1) == []
    (c,) = v.parse_frame(contract_kline(1), 2)
    assert (c.market, c.symbol, c.open_time, c.event_time, c.provenance) == ("linear", "BTC/USDT", 1587448800000,
                                                                             1587448802003, "inferred")
    assert (c.open, c.high, c.low, c.close, c.volume, c.quote_volume) == (6894.5, 6910.5, 6885.0, 6885.0, 1611754.0,
                                                                           233.740269343644737245)
    pong = json.dumps({"channel": "pong", "data": (1587448800 + 120) * 1000 + config.KLINE_CLOSE_GRACE_MS})
    (c,) = v.parse_frame(pong, LATER)  # the server time in a pong is the exchange clock too
    assert c.open_time == 1587448860000 and v.timer_closes == 1


def test_contract_deals_both_layouts() -> None:
    v = futures()
    (t,) = v.parse_frame(text("futures_deal.json"), 4)
    assert (t.symbol, t.price, t.qty, t.side, t.event_time) == ("BTC/USDT", 6866.5, 2096.0, "buy", 1587442049632)
    assert t.trade_id == "1587442049632-6866.5-2096.0-1"
    a, b = v.parse_frame(text("futures_deal_list.json"), 4)
    assert [(x.trade_id, x.side, x.qty) for x in (a, b)] == [("16270106116", "buy", 2096.0), ("16270106117", "sell", 11.0)]


def test_contract_depth_becomes_quote_in_contracts() -> None:
    (q,) = futures().parse_frame(text("futures_depth_full.json"), 4)
    assert isinstance(q, Quote)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == (6859.0, 1840.0, 6859.5, 3251.0, 1587442022003)


def test_contract_ticker_and_funding_rate_merge() -> None:
    v = futures()
    assert v.parse_frame(text("futures_funding_rate.json"), 1) == []  # no mark price yet
    f, oi = v.parse_frame(text("futures_ticker.json"), 2)
    assert isinstance(f, FundingRate) and isinstance(oi, OpenInterest)
    assert (f.mark_price, f.index_price, f.funding_rate, f.event_time) == (6867.4, 6861.6, 0.0008, 1587442022003)
    assert (oi.symbol, oi.open_interest, oi.event_time) == ("BTC/USDT", 2284742.0, 1587442022003)
    push = doc("futures_funding_rate.json")
    push["data"]["nextSettleTime"] = 1587456000000
    (f,) = v.parse_frame(json.dumps(push), 3)
    assert (f.mark_price, f.index_price, f.funding_rate, f.next_funding_time) == (6867.4, 6861.6, 0.001, 1587456000000)
    f, _ = v.parse_frame(text("futures_ticker.json"), 4)
    assert f.next_funding_time == 1587456000000


def test_contract_responses() -> None:
    v = futures()
    assert v.parse_frame(text("futures_sub_ack.json"), 1) == [SubscribeAck(None)]
    assert v.parse_frame(text("futures_pong.json"), 1) == []
    (err,) = v.parse_frame(text("futures_error.json"), 1)
    assert not err.ok and "not exists" in err.detail
    import gzip
    (t, _) = v.parse_frame(gzip.compress(text("futures_deal_list.json").encode()), 1)  # gzip pushes are inflated
    assert t.trade_id == "16270106116"


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"channel":"push.deal","data":[{"p":1', "malformed_json"),
    ('{"data":1}', "schema_mismatch"),
    (text("futures_deal.json").replace('"p": 6866.5', '"p": "x"'), "schema_mismatch"),
    (text("futures_deal.json").replace('"T": 1', '"T": 3'), "bad_side"),
    (text("futures_deal.json").replace('"symbol": "BTC_USDT"', '"symbol": "ETH_USDT"'), "unknown_symbol"),
    (text("futures_kline.json"), "unexpected_interval"),  # Min60
    (text("futures_depth_full.json").replace('"bids": [[6859.0, 1840, 3], [6858.5, 77, 1]]', '"bids": []'),
     "empty_book"),
    (text("futures_depth_full.json").replace("6859.0", "6860.5"), "crossed_quote"),
    ('{"channel":"push.index.price","data":{"price":1},"symbol":"BTC_USDT"}', "unexpected_stream"),
    (b"\x1f\x8b\x08\x00garbage", "malformed_gzip"),
])
def test_bad_contract_frames_raise_with_reason(raw: Any, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        futures().parse_frame(raw, 1)
    assert info.value.reason == reason, info.value.detail


def test_streams_and_subscribe_messages() -> None:
    assert MexcSpotVenue().streams_for("BTC/USDT") == [
        "spot@public.kline.v3.api.pb@BTCUSDT@Min1", "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT",
        "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT"]
    v = MexcSpotVenue()
    streams = [f"spot@public.aggre.deals.v3.api.pb@100ms@C{i}USDT" for i in range(70)]
    msgs = [json.loads(m) for m in v.subscribe_messages(streams, 7)]
    assert [len(m["params"]) for m in msgs] == [30, 30, 10] and [m["id"] for m in msgs] == [7, 8, 9]
    assert {m["method"] for m in msgs} == {"SUBSCRIPTION"}
    assert json.loads(v.unsubscribe_messages(streams[:1], 1)[0]) == {"method": "UNSUBSCRIPTION",
                                                                     "params": streams[:1], "id": 1}
    assert json.loads(v.app_ping_message() or "") == {"method": "PING"}
    f = MexcFuturesVenue()
    assert f.streams_for("BTC/USDT") == ["kline:BTC_USDT", "deal:BTC_USDT", "depth.full:BTC_USDT", "ticker:BTC_USDT",
                                         "funding.rate:BTC_USDT"]
    subs = [json.loads(m) for m in f.subscribe_messages(f.streams_for("BTC/USDT"), 1)]
    assert subs[0] == {"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min1"}, "gzip": False}
    assert subs[2]["param"] == {"symbol": "BTC_USDT", "limit": 5}
    assert [s["method"] for s in subs] == ["sub.kline", "sub.deal", "sub.depth.full", "sub.ticker", "sub.funding.rate"]
    assert json.loads(f.unsubscribe_messages(["deal:BTC_USDT"], 1)[0]) == {"method": "unsub.deal",
                                                                         "param": {"symbol": "BTC_USDT"}}
    assert json.loads(f.app_ping_message() or "") == {"method": "ping"}
    with pytest.raises(ValueError, match="funding"):
        MexcSpotVenue(MexcSpotVenue().config.__class__("ws", "rest", channels=("funding",))).streams_for("BTC/USDT")
