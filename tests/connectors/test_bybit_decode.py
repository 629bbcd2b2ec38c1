"""Bybit v5 quirks of decoding: the level 1 book is a snapshot plus deltas,
linear tickers deltas carry only changed fields and are merged; the JSON pong;
topic names and subscribe requests. What each captured frame decodes to, and
the bad frames, are the venue contract's (test_venue_contract.py, data in
tests/connectors/fakes/adapters/bybit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.bybit import BybitLinearVenue, BybitSpotVenue
from streams.records import FundingRate, OpenInterest, Quote, RecordError

RES = Path(__file__).parent / "resources" / "bybit"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


def venue(cls: type) -> BybitSpotVenue:
    v = cls()
    v.set_symbol_map({"BTC/USDT": "BTCUSDT", "ETH/USDT": "ETHUSDT", "SOL/USDT": "SOLUSDT"})
    return v


def test_level1_book_becomes_quote_and_deltas_update_it() -> None:
    v = venue(BybitSpotVenue)
    (q,) = v.parse_frame(frame("spot_orderbook1_snapshot.json"), 99)
    assert isinstance(q, Quote)
    assert (q.symbol, q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == ("BTC/USDT", 65140.4, 0.885797, 65140.5, 0.472203, 1786310816512)
    # a level 1 delta built from the first level of each side of a captured orderbook.200 delta
    delta = ('{"topic":"orderbook.1.BTCUSDT","ts":1786310816618,"type":"delta","data":{"s":"BTCUSDT",'
             '"b":[["65140.4","0.875077"]],"a":[["65154.6","0.09948"]],"u":62505425,"seq":112488545865},"cts":1786310816585}')
    (q,) = v.parse_frame(delta, 100)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == (65140.4, 0.875077, 65154.6, 0.09948, 1786310816585)
    gone = delta.replace('"a":[["65154.6","0.09948"]]', '"a":[["65154.6","0"]]').replace('"b":[["65140.4","0.875077"]]', '"b":[]')
    assert v.parse_frame(gone, 101) == []  # the best ask was removed: no two-sided quote to publish
    with pytest.raises(RecordError) as info:  # a deep book under a level 1 topic is not what we subscribed
        v.parse_frame(frame("spot_orderbook200_delta.json").replace("orderbook.200", "orderbook.1"), 102)
    assert info.value.reason == "schema_mismatch"
    (q,) = venue(BybitLinearVenue).parse_frame(frame("linear_orderbook1_snapshot.json"), 1)
    assert (q.market, q.bid, q.ask) == ("linear", 65114.2, 65114.3)


def test_linear_tickers_merge_deltas_into_funding_and_open_interest() -> None:
    v = venue(BybitLinearVenue)
    out = v.parse_frame(frame("linear_tickers_snapshot.json"), 1)
    f, oi = out
    assert isinstance(f, FundingRate) and isinstance(oi, OpenInterest)
    assert (f.symbol, f.mark_price, f.index_price, f.funding_rate, f.next_funding_time, f.event_time) == (
        "BTC/USDT", 65117.44, 65137.76, 0.0001, 1786320000000, 1786310817583)
    assert (oi.open_interest, oi.open_interest_value) == (59891.732, 3899996265.01)
    (f,) = v.parse_frame(frame("linear_tickers_delta_mark.json"), 2)  # mark moves; funding kept from the snapshot
    assert (f.mark_price, f.index_price, f.funding_rate, f.next_funding_time) == (65118.03, 65138.36, 0.0001, 1786320000000)
    (oi,) = v.parse_frame(frame("linear_tickers_delta_oi.json"), 3)
    assert isinstance(oi, OpenInterest) and oi.open_interest == 59895.976 and oi.event_time == 1786310824283


def test_app_pong_is_recognised() -> None:
    v = venue(BybitSpotVenue)
    assert v.is_app_pong(frame("pong.json")) and not v.is_app_pong(frame("spot_subscribe_ack.json"))


def test_topics_and_subscribe_messages() -> None:
    spot, linear = BybitSpotVenue(), BybitLinearVenue()
    assert spot.streams_for("BTC/USDT") == ["kline.1.BTCUSDT", "publicTrade.BTCUSDT", "orderbook.1.BTCUSDT"]
    assert linear.streams_for("ETH/USDT") == ["kline.1.ETHUSDT", "publicTrade.ETHUSDT", "orderbook.1.ETHUSDT", "tickers.ETHUSDT"]
    streams = [f"publicTrade.S{i}USDT" for i in range(25)]
    msgs = spot.subscribe_messages(streams, 7)
    assert len(msgs) == 3 and '"req_id":"7"' in msgs[0] and '"req_id":"9"' in msgs[2] and '"op":"subscribe"' in msgs[0]
    assert msgs[0].count("publicTrade") == 10 and msgs[2].count("publicTrade") == 5
    assert '"op":"unsubscribe"' in spot.unsubscribe_messages(streams[:1], 1)[0]
    assert spot.app_ping_message() == '{"op":"ping"}'
