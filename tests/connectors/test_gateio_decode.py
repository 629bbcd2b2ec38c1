"""Gate.io v4 frames (Gate's documented examples) decode into the right
records, values checked against the raw frame; bad frames raise RecordError
with a reason; subscription requests follow Gate's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.gateio import GateioFuturesVenue, GateioSpotVenue
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, OpenInterest, Quote, RecordError, Tick

RES = Path(__file__).parent / "resources" / "gateio"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


def venue(cls: type) -> GateioSpotVenue:
    v = cls()
    v.set_symbol_map({"BTC/USDT": "BTC_USDT", "GT/USDT": "GT_USDT", "BTC/USD": "BTC_USD"})
    return v


def test_spot_closed_candlestick_becomes_candle() -> None:
    (c,) = venue(GateioSpotVenue).parse_frame(frame("spot_candlestick_closed.json"), received_at=1606292600400)
    assert isinstance(c, Candle)
    assert (c.exchange, c.market, c.symbol, c.tf, c.provenance) == ("gateio", "spot", "BTC/USDT", "1m", "ws_final")
    assert (c.open_time, c.close_time, c.event_time, c.received_at) == (1606292580000, 1606292639999, 1606292600376, 1606292600400)
    assert (c.open, c.high, c.low, c.close) == (19128.1, 19128.1, 19128.1, 19128.1)
    assert (c.volume, c.quote_volume) == (3.8283, 2362.32035)  # a = base amount, v = quote volume


def test_open_candlesticks_publish_nothing() -> None:
    assert venue(GateioSpotVenue).parse_frame(frame("spot_candlestick_open.json"), 1) == []


def test_futures_candlesticks_only_the_closed_point() -> None:
    (c,) = venue(GateioFuturesVenue).parse_frame(frame("futures_candlesticks.json"), 5)
    assert (c.market, c.symbol, c.open_time, c.event_time) == ("linear", "BTC/USDT", 1545129300000, 1542162490123)
    assert (c.open, c.high, c.low, c.close, c.volume) == (94.3, 96.9, 89.5, 95.4, 27525555.0)  # contracts


def test_spot_trade_becomes_tick() -> None:
    (t,) = venue(GateioSpotVenue).parse_frame(frame("spot_trade.json"), 7)
    assert isinstance(t, Tick)
    assert (t.symbol, t.trade_id, t.price, t.qty, t.side, t.event_time, t.received_at) == (
        "GT/USDT", "309143071", 0.4705, 16.47, "sell", 1606292218213, 7)


def test_futures_trades_signed_size_and_internal_fills() -> None:
    v = venue(GateioFuturesVenue)
    assert v.parse_frame(frame("futures_trade_internal.json"), 1) == []  # insurance-fund takeover: no market trade
    market_trade = json.loads(frame("futures_trade_internal.json"))
    del market_trade["result"][0]["is_internal"]
    (t,) = v.parse_frame(json.dumps(market_trade), 9)
    assert (t.symbol, t.trade_id, t.price, t.qty, t.side, t.event_time) == ("BTC/USD", "27753479", 96.4, 108.0, "sell", 1545136464123)


def test_book_tickers_become_quotes() -> None:
    (q,) = venue(GateioSpotVenue).parse_frame(frame("spot_book_ticker.json"), 99)
    assert isinstance(q, Quote)
    assert (q.symbol, q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == ("BTC/USDT", 19177.79, 0.0003341504, 19179.38, 0.09, 1606293275123)
    (q,) = venue(GateioFuturesVenue).parse_frame(frame("futures_book_ticker.json"), 99)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == (54696.6, 37000.0, 54696.7, 47061.0, 1615366379123)


def test_futures_ticker_becomes_funding_and_open_interest() -> None:
    f, oi = venue(GateioFuturesVenue).parse_frame(frame("futures_tickers.json"), 1)
    assert isinstance(f, FundingRate) and isinstance(oi, OpenInterest)
    assert (f.symbol, f.mark_price, f.index_price, f.funding_rate, f.event_time) == ("BTC/USD", 118.35, 118.36, -0.000114, 1541659086123)
    assert (oi.open_interest, oi.event_time) == (73648.0, 1541659086123)


def test_acks_errors_and_pongs() -> None:
    v = venue(GateioSpotVenue)
    assert v.parse_frame(frame("spot_subscribe_ack.json"), 1) == [SubscribeAck(7)]
    (err,) = v.parse_frame(frame("spot_subscribe_error.json"), 1)
    assert err.id == 8 and not err.ok and "Invalid argument" in err.detail and "spot.candlesticks" in err.detail
    assert v.parse_frame(frame("spot_pong.json"), 1) == []
    assert venue(GateioFuturesVenue).parse_frame(frame("futures_subscribe_ack.json"), 1) == [SubscribeAck(None)]


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"time":1606292600,"channel":"spot.candlesticks","event":"update","result":{"t":', "malformed_json"),
    (frame("spot_order_book_update.json"), "unexpected_stream"),
    (frame("spot_trade.json").replace('"price":"0.4705000000"', '"price":"abc"'), "bad_number"),
    (frame("spot_trade.json").replace('"id":309143071', '"id":"x"'), "schema_mismatch"),
    (frame("spot_trade.json").replace('"GT_USDT"', '"ETH_USDT"'), "unknown_symbol"),
    (frame("spot_candlestick_closed.json").replace('"h":"19128.1"', '"h":"1.0"'), "high_below_low"),
    (frame("spot_candlestick_closed.json").replace('"1m_BTC_USDT"', '"5m_BTC_USDT"'), "unexpected_interval"),
    (frame("spot_book_ticker.json").replace('"b":"19177.79"', '"b":""'), "empty_book_side"),
    ('{"time":1,"channel":"spot.trades","event":"weird"}', "unexpected_frame"),
    ('{"hello":1}', "schema_mismatch"),
])
def test_bad_frames_raise_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        venue(GateioSpotVenue).parse_frame(raw, 1)
    assert info.value.reason == reason


def test_streams_and_subscribe_requests() -> None:
    spot, fut = GateioSpotVenue(), GateioFuturesVenue()
    assert spot.streams_for("BTC/USDT") == ["spot.candlesticks:1m_BTC_USDT", "spot.trades:BTC_USDT", "spot.book_ticker:BTC_USDT"]
    assert fut.streams_for("ETH/USDT") == ["futures.candlesticks:1m_ETH_USDT", "futures.trades:ETH_USDT",
                                           "futures.book_ticker:ETH_USDT", "futures.tickers:ETH_USDT"]
    assert spot.connect_url() == "wss://api.gateio.ws/ws/v4/" and fut.connect_url() == "wss://fx-ws.gateio.ws/v4/ws/usdt"
    streams = [s for i in range(45) for s in spot.streams_for(f"C{i}/USDT")]
    msgs = [json.loads(m) for m in spot.subscribe_messages(streams, 7)]
    # one request per candlestick subscription (Gate's form), pairs lists of at most 20
    candle_reqs = [m for m in msgs if m["channel"] == "spot.candlesticks"]
    assert len(candle_reqs) == 45 and candle_reqs[0]["payload"] == ["1m", "C0_USDT"]
    trade_reqs = [m for m in msgs if m["channel"] == "spot.trades"]
    assert [len(m["payload"]) for m in trade_reqs] == [20, 20, 5]
    assert [m["id"] for m in msgs] == list(range(7, 7 + len(msgs)))
    assert all(m["event"] == "subscribe" and isinstance(m["time"], int) for m in msgs)
    unsub = json.loads(spot.unsubscribe_messages(["spot.trades:BTC_USDT"], 1)[0])
    assert (unsub["event"], unsub["payload"]) == ("unsubscribe", ["BTC_USDT"])
