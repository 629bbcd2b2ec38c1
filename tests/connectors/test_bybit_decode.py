"""Captured Bybit v5 frames decode into the right records (values checked
against the raw frame), and bad frames raise RecordError with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.bybit import BybitLinearVenue, BybitSpotVenue
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, OpenInterest, Quote, RecordError, Tick

RES = Path(__file__).parent / "resources" / "bybit"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


def venue(cls: type) -> BybitSpotVenue:
    v = cls()
    v.set_symbol_map({"BTC/USDT": "BTCUSDT", "ETH/USDT": "ETHUSDT", "SOL/USDT": "SOLUSDT"})
    return v


def test_spot_closed_kline_becomes_candle() -> None:
    (c,) = venue(BybitSpotVenue).parse_frame(frame("spot_kline_closed.json"), received_at=1786310820600)
    assert isinstance(c, Candle)
    assert (c.exchange, c.market, c.symbol, c.tf, c.provenance) == ("bybit", "spot", "BTC/USDT", "1m", "ws_final")
    assert (c.open_time, c.close_time, c.event_time, c.received_at) == (1786310760000, 1786310819999, 1786310820563, 1786310820600)
    assert (c.open, c.high, c.low, c.close, c.volume, c.quote_volume) == (65140.4, 65140.5, 65140.4, 65140.5, 0.15388, 10023.8067889)


def test_linear_closing_push_yields_only_the_confirmed_candle() -> None:
    # the captured closing push carries the closed ETHUSDT minute and the new open one
    (c,) = venue(BybitLinearVenue).parse_frame(frame("linear_kline_closed.json"), 5)
    assert (c.market, c.symbol, c.open_time, c.event_time) == ("linear", "ETH/USDT", 1786310760000, 1786310820123)
    assert (c.open, c.high, c.low, c.close, c.volume, c.quote_volume) == (1922.43, 1922.48, 1922.42, 1922.48, 15.7, 30182.0724)


def test_open_klines_publish_nothing() -> None:
    assert venue(BybitSpotVenue).parse_frame(frame("spot_kline_open.json"), 1) == []
    assert venue(BybitLinearVenue).parse_frame(frame("linear_kline_open.json"), 1) == []


@pytest.mark.parametrize(("cls", "name", "symbol", "trade_id", "price", "qty", "side", "event_time"), [
    (BybitSpotVenue, "spot_public_trade.json", "ETH/USDT", "2280000001739247417", 1923.28, 0.04537, "sell", 1786310821917),
    (BybitLinearVenue, "linear_public_trade.json", "BTC/USDT", "a9188a0a-82bc-50de-be60-03eedbe3cdd7", 65114.2, 0.004, "sell", 1786310819680),
])
def test_public_trades_become_ticks(cls: type, name: str, symbol: str, trade_id: str, price: float, qty: float,
                                    side: str, event_time: int) -> None:
    (t,) = venue(cls).parse_frame(frame(name), 7)
    assert isinstance(t, Tick)
    assert (t.symbol, t.trade_id, t.price, t.qty, t.side, t.event_time, t.received_at) == (symbol, trade_id, price, qty, side, event_time, 7)


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


def test_acks_pongs_and_errors() -> None:
    v = venue(BybitSpotVenue)
    assert v.parse_frame(frame("spot_subscribe_ack.json"), 1) == [SubscribeAck(None)]
    assert v.parse_frame(frame("linear_subscribe_ack.json"), 1) == [SubscribeAck(None)]
    assert v.parse_frame('{"success":true,"ret_msg":"subscribe","conn_id":"x","req_id":"12","op":"subscribe"}', 1) == [SubscribeAck(12)]
    assert v.parse_frame(frame("pong.json"), 1) == []
    assert v.is_app_pong(frame("pong.json")) and not v.is_app_pong(frame("spot_subscribe_ack.json"))
    (err,) = v.parse_frame(frame("subscribe_error.json"), 1)
    assert err.id == 3 and not err.ok and "handler not found" in err.detail


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"topic":"kline.1.BTCUSDT","data":[{"start":', "malformed_json"),
    (frame("spot_orderbook200_delta.json"), "unexpected_stream"),
    (frame("spot_public_trade.json").replace('"p":"1923.28"', '"p":"abc"'), "bad_number"),
    (frame("spot_public_trade.json").replace('"T":1786310821917', '"T":"x"'), "schema_mismatch"),
    (frame("spot_public_trade.json").replace('"ETHUSDT"', '"XRPUSDT"'), "unknown_symbol"),
    (frame("spot_kline_closed.json").replace('"high":"65140.5"', '"high":"1.0"'), "high_below_low"),
    (frame("spot_kline_closed.json").replace('"interval":"1"', '"interval":"5"'), "unexpected_interval"),
    (frame("spot_public_trade.json").replace('"S":"Sell"', '"S":"Hold"'), "bad_side"),
    ('{"hello":1}', "unexpected_frame"),
    ('[1,2]', "schema_mismatch"),
])
def test_bad_frames_raise_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        venue(BybitSpotVenue).parse_frame(raw, 1)
    assert info.value.reason == reason


def test_spot_has_no_funding_stream() -> None:
    with pytest.raises(RecordError) as info:
        venue(BybitSpotVenue).parse_frame(frame("linear_tickers_snapshot.json"), 1)
    assert info.value.reason == "unexpected_stream"


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
