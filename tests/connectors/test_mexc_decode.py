"""MEXC decoding beyond the venue contract (test_venue_contract.py, data in
tests/connectors/fakes/adapters/mexc.py): the protobuf field numbers against
hand-assembled bytes; without a close flag a window is closed by the exchange
clock passing its end plus the grace (a send time far ahead of ours is not
believed, a frame that fails to decode does not move it), never twice and
never across a resubscription; subscriptions as MEXC documents them."""

from __future__ import annotations

import base64
import json

import pytest

from connectors.mexc import MexcFuturesVenue, MexcSpotVenue, config
from streams.records import Candle, Quote, RecordError
from tests.connectors.fakes.adapters.mexc import WINDOW, contract_kline, doc, spot_kline
from tests.connectors.fakes.mexc import push_from_doc

pytestmark = pytest.mark.unit

LATER = 1_800_000_000_000  # a local receive time after every exchange time used here


def spot() -> MexcSpotVenue:
    v = MexcSpotVenue()
    v.set_symbol_map({"BTC/USDT": "BTCUSDT"})
    return v


def futures() -> MexcFuturesVenue:
    v = MexcFuturesVenue()
    v.set_symbol_map({"BTC/USDT": "BTC_USDT"})
    v.set_contract_sizes({"BTC_USDT": 0.0001})
    return v


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


def test_a_late_push_of_a_published_window_is_counted_not_published() -> None:
    v = spot()
    assert v.parse_frame(spot_kline(0), 10) == []
    (c,) = v.parse_frame(spot_kline(1), 30)
    assert c.open_time == WINDOW * 1000
    assert v.parse_frame(spot_kline(0), 40) == [] and v.late_kline_pushes == 1


def test_resubscribing_forgets_an_open_window() -> None:
    """A window seen before a reconnect may miss pushes: it is left to REST."""
    v = spot()
    assert v.parse_frame(spot_kline(0), 1) == []
    v.subscribe_messages(v.streams_for("BTC/USDT"), 1)  # what a reconnect sends
    assert v.parse_frame(spot_kline(1), 2) == []
    (c,) = v.parse_frame(spot_kline(2), 3)
    assert c.open_time == (WINDOW + 60) * 1000


# ---- contracts -------------------------------------------------------------------------

def test_contract_pong_time_closes_a_quiet_window() -> None:
    """The server time in a contract pong is the exchange clock too."""
    v = futures()
    assert v.parse_frame(contract_kline(0), 1) == []
    (c,) = v.parse_frame(contract_kline(1), 2)  # closed by the next window (values: the contract's)
    assert c.open_time == 1587448800000
    pong = json.dumps({"channel": "pong", "data": (1587448800 + 120) * 1000 + config.KLINE_CLOSE_GRACE_MS})
    (c,) = v.parse_frame(pong, LATER)
    assert c.open_time == 1587448860000 and v.timer_closes == 1


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
