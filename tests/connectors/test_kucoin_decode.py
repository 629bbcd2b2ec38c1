"""KuCoin frames (KuCoin's documented examples) decode into the right records;
a kline window is published only once the next window proves it closed, and
never across a resubscription; bad frames raise RecordError with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.kucoin import KucoinFuturesVenue, KucoinSpotVenue
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, Quote, RecordError, Tick

RES = Path(__file__).parent / "resources" / "kucoin"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


def spot() -> KucoinSpotVenue:
    v = KucoinSpotVenue()
    v.set_symbol_map({"BTC/USDT": "BTC-USDT"})
    return v


def futures() -> KucoinFuturesVenue:
    v = KucoinFuturesVenue()
    v.set_symbol_map({"BTC/USDT": "XBTUSDTM"})
    return v


def shifted(raw: str, minutes: int, **values: str) -> str:
    """The same push for a window ``minutes`` later (and other candle values)."""
    msg = json.loads(raw)
    c = msg["data"]["candles"]
    c[0] = str(int(c[0]) + 60 * minutes)
    for i, key in enumerate(("open", "close", "high", "low"), start=1):
        if key in values:
            c[i] = values[key]
    return json.dumps(msg)


def test_spot_window_is_published_when_the_next_window_starts() -> None:
    v = spot()
    first = frame("spot_candles_1min.json")
    assert v.parse_frame(first, 10) == []  # the window is still open
    later_same_window = shifted(first, 0, close="67500.1")
    assert v.parse_frame(later_same_window, 20) == []  # a newer snapshot of the same window replaces it
    (c,) = v.parse_frame(shifted(first, 1), 30)
    assert isinstance(c, Candle)
    assert (c.exchange, c.market, c.symbol, c.provenance) == ("kucoin", "spot", "BTC/USDT", "ws_final")
    assert (c.open_time, c.close_time, c.event_time, c.received_at) == (1729839600000, 1729839659999, 1729842192785, 20)
    assert (c.open, c.close, c.high, c.low) == (67644.9, 67500.1, 67724.8, 67243.8)  # the last snapshot wins
    assert (c.volume, c.quote_volume) == (44.88321441, 3027558.991928447)


def test_resubscribing_forgets_an_open_window() -> None:
    """A window seen before a reconnect may miss trades: it is left to REST."""
    v = spot()
    first = frame("spot_candles_1min.json")
    assert v.parse_frame(first, 1) == []
    v.subscribe_messages(v.streams_for("BTC/USDT"), 1)  # what a reconnect sends
    assert v.parse_frame(shifted(first, 1), 2) == []
    (c,) = v.parse_frame(shifted(first, 2), 3)
    assert c.open_time == 1729839660000
    assert v.parse_frame(shifted(first, 1), 4) == []  # a stale push of an older window changes nothing


def test_futures_candle_field_order_turnover_then_contracts() -> None:
    v = futures()
    assert v.parse_frame(frame("futures_limit_candle.json"), 1) == []
    (c,) = v.parse_frame(shifted(frame("futures_limit_candle.json"), 1), 2)
    assert (c.market, c.symbol, c.open_time, c.event_time) == ("linear", "BTC/USDT", 1790993280000, 1790993360463)
    assert (c.open, c.close, c.high, c.low, c.volume, c.quote_volume) == (84568.3, 84556.7, 84568.3, 84544.2, 12785.0, 1080991.7836)


def test_trades_become_ticks() -> None:
    (t,) = spot().parse_frame(frame("spot_match.json"), 7)
    assert isinstance(t, Tick)
    assert (t.symbol, t.trade_id, t.price, t.qty, t.side, t.event_time) == ("BTC/USDT", "11067996711960577", 67523.0, 0.003, "buy", 1729843222921)
    (t,) = futures().parse_frame(frame("futures_execution.json"), 7)
    assert (t.symbol, t.trade_id, t.price, t.qty, t.side, t.event_time) == ("BTC/USDT", "1794100537695", 90503.9, 2.0, "buy", 1731898619520)


def test_tickers_become_quotes() -> None:
    (q,) = spot().parse_frame(frame("spot_ticker.json"), 99)
    assert isinstance(q, Quote)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == (0.049, 0.036, 0.08, 0.18, 1704873323416)
    (q,) = futures().parse_frame(frame("futures_ticker_v2.json"), 99)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == (86454.5, 5044.0, 86454.6, 73.0, 1740641976241)


def test_instrument_pushes_merge_into_funding() -> None:
    v = futures()
    assert v.parse_frame(frame("futures_instrument_funding.json"), 1) == []  # no mark price yet
    (f,) = v.parse_frame(frame("futures_instrument_mark.json"), 2)
    assert isinstance(f, FundingRate)
    assert (f.symbol, f.mark_price, f.index_price, f.funding_rate, f.event_time) == ("BTC/USDT", 90445.02, 90445.02, -0.002966, 1731899129000)


def test_control_frames() -> None:
    v = spot()
    assert v.parse_frame(frame("welcome.json"), 1) == [] and v.parse_frame(frame("pong.json"), 1) == []
    assert v.parse_frame(frame("ack.json"), 1) == [SubscribeAck(1545910660739)]
    (err,) = v.parse_frame(frame("error.json"), 1)
    assert err.id == 1545910660740 and not err.ok and "404" in err.detail and "not found" in err.detail


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"type":"message","topic":"/market/match:BTC-USDT","data":{"price":', "malformed_json"),
    (frame("spot_level1.json"), "unexpected_stream"),
    (frame("spot_candles_1hour.json"), "unexpected_interval"),
    (frame("spot_match.json").replace('"price":"67523"', '"price":"x1"'), "bad_number"),
    (frame("spot_match.json").replace('"tradeId":"11067996711960577"', '"tradeId":5'), "schema_mismatch"),
    (frame("spot_match.json").replace('"symbol":"BTC-USDT"', '"symbol":"ETH-USDT"'), "unknown_symbol"),
    (frame("spot_candles_1min.json").replace('"67724.8"', '"1.0"'), "high_below_low"),
    ('{"type":"notice"}', "unexpected_frame"),
    ('{"hello":1}', "schema_mismatch"),
])
def test_bad_frames_raise_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        spot().parse_frame(raw, 1)
    assert info.value.reason == reason


def test_streams_and_subscribe_messages() -> None:
    assert KucoinSpotVenue().streams_for("BTC/USDT") == ["/market/candles:BTC-USDT_1min", "/market/match:BTC-USDT",
                                                         "/market/ticker:BTC-USDT"]
    assert KucoinFuturesVenue().streams_for("BTC/USDT") == [
        "/contractMarket/limitCandle:XBTUSDTM_1min", "/contractMarket/execution:XBTUSDTM",
        "/contractMarket/tickerV2:XBTUSDTM", "/contract/instrument:XBTUSDTM"]
    v = KucoinSpotVenue()
    streams = [f"/market/match:C{i}-USDT" for i in range(230)]
    msgs = [json.loads(m) for m in v.subscribe_messages(streams, 7)]
    assert [len(m["topic"].partition(":")[2].split(",")) for m in msgs] == [100, 100, 30]
    assert [m["id"] for m in msgs] == ["7", "8", "9"]
    assert all(m["type"] == "subscribe" and m["response"] is True and m["privateChannel"] is False for m in msgs)
