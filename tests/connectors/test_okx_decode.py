"""OKX v5 frames decode into the right records: every trades and tickers frame
of the real capture (cryptofeed ``OKX.ws.1.0``, read in place) checked against
its raw values, the documented candle / funding / mark / open-interest pushes,
acks and errors; bad frames raise RecordError with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.okx import OkxSpotVenue, OkxSwapVenue
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, OpenInterest, Quote, RecordError, Tick
from tests.market import market_file

RES = Path(__file__).parent / "resources" / "okx"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


def captured() -> list[tuple[str, dict]]:
    """(raw frame, decoded) of every frame OKX sent in the capture (connect and send lines skipped)."""
    out = []
    for line in market_file("cryptofeed/OKX.ws.1.0").read_text().splitlines():
        if not line.strip() or line.startswith("wss://"):
            continue
        raw = line.partition(": ")[2]
        out.append((raw, json.loads(raw)))
    return out


def pushes(channel: str, inst: str) -> list[tuple[str, dict]]:
    return [(raw, d) for raw, d in captured() if "data" in d and d["arg"] == {"channel": channel, "instId": inst}]


def spot() -> OkxSpotVenue:
    v = OkxSpotVenue()
    v.set_symbol_map({"BTC/USDT": "BTC-USDT", "ETH/USDT": "ETH-USDT"})
    return v


def swap() -> OkxSwapVenue:
    v = OkxSwapVenue()
    v.set_symbol_map({"BTC/USDT": "BTC-USDT-SWAP", "ETH/USDT": "ETH-USDT-SWAP"})
    v.set_contract_sizes({"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1})
    return v


def test_every_captured_spot_trade_becomes_a_tick() -> None:
    v = spot()
    frames = pushes("trades", "BTC-USDT")
    assert len(frames) == 69
    for raw, d in frames:
        ticks = v.parse_frame(raw, received_at=1652459230000)
        assert len(ticks) == len(d["data"]) >= 1
        for t, e in zip(ticks, d["data"], strict=True):
            assert isinstance(t, Tick)
            assert (t.exchange, t.market, t.symbol) == ("okx", "spot", "BTC/USDT")
            assert (t.trade_id, t.price, t.qty, t.side, t.event_time) == (
                e["tradeId"], float(e["px"]), float(e["sz"]), e["side"], int(e["ts"]))
    first = v.parse_frame(frames[0][0], 1)[0]
    assert (first.trade_id, first.price, first.qty, first.side, first.event_time) == (
        "338476307", 30236.0, 0.0002, "buy", 1652459224818)


def test_every_captured_spot_ticker_becomes_a_quote() -> None:
    v = spot()
    frames = pushes("tickers", "BTC-USDT")
    assert len(frames) == 25
    for raw, d in frames:
        (q,) = v.parse_frame(raw, 5)
        e = d["data"][0]
        assert isinstance(q, Quote)
        assert (q.symbol, q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time, q.received_at) == (
            "BTC/USDT", float(e["bidPx"]), float(e["bidSz"]), float(e["askPx"]), float(e["askSz"]), int(e["ts"]), 5)
        assert q.bid <= q.ask


def test_captured_swap_frames_convert_contracts_to_base() -> None:
    """The capture's only swap is coin-margined UNI-USD-SWAP; the trades/tickers
    layout is the same for USDT swaps. Mapped as one with a contract value of 10,
    sizes come out as contracts x ctVal."""
    v = OkxSwapVenue()
    v.set_symbol_map({"UNI/USD": "UNI-USD-SWAP"})
    v.set_contract_sizes({"UNI-USD-SWAP": 10.0})
    by_channel = {d["arg"]["channel"]: raw for raw, d in captured()
                  if d.get("arg", {}).get("instId") == "UNI-USD-SWAP" and "data" in d}
    (t,) = v.parse_frame(by_channel["trades"], 1)
    assert (t.market, t.symbol, t.trade_id, t.price, t.qty, t.side, t.event_time) == (
        "linear", "UNI/USD", "12883020", 5.123, 1000.0, "sell", 1652459215150)
    (q,) = v.parse_frame(by_channel["tickers"], 1)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty, q.event_time) == (5.134, 960.0, 5.142, 250.0, 1652459223143)
    with pytest.raises(RecordError) as info:  # books are not a channel we subscribe
        v.parse_frame(by_channel["books"], 1)
    assert info.value.reason == "unexpected_stream"


def test_swap_trade_without_a_known_contract_value_is_refused() -> None:
    v = OkxSwapVenue()
    v.set_symbol_map({"UNI/USD": "UNI-USD-SWAP"})  # markets not loaded: ctVal unknown
    raw = pushes("trades", "UNI-USD-SWAP")[0][0]
    with pytest.raises(RecordError) as info:
        v.parse_frame(raw, 1)
    assert info.value.reason == "unknown_contract_size" and "UNI-USD-SWAP" in info.value.detail


def test_captured_acks_and_other_instruments() -> None:
    v = spot()
    acks = [raw for raw, d in captured() if d.get("event") == "subscribe"]
    assert len(acks) == 18 and all(v.parse_frame(raw, 1) == [SubscribeAck(None)] for raw in acks)
    futures = pushes("trades", "BTC-USD-220527")[0][0]
    with pytest.raises(RecordError) as info:  # an instrument we do not stream
        v.parse_frame(futures, 1)
    assert info.value.reason == "unknown_symbol" and "BTC-USD-220527" in info.value.detail


def test_closed_candle_becomes_candle_and_open_one_nothing() -> None:
    v = spot()
    (c,) = v.parse_frame(frame("spot_candle1m_closed.json"), received_at=1597026420100)
    assert isinstance(c, Candle)
    assert (c.exchange, c.market, c.symbol, c.tf, c.provenance) == ("okx", "spot", "BTC/USDT", "1m", "ws_final")
    assert (c.open_time, c.close_time, c.event_time, c.received_at) == (1597026360000, 1597026419999, 1597026420000,
                                                                        1597026420100)
    assert (c.open, c.high, c.low, c.close, c.volume, c.quote_volume) == (8533.02, 8553.74, 8527.17, 8548.26, 45247.0,
                                                                          529.5858061)
    assert v.parse_frame(frame("spot_candle1m_open.json"), 1) == []


def test_swap_candle_volume_is_base_currency() -> None:
    (c,) = swap().parse_frame(frame("swap_candle1m_closed.json"), 1)
    assert (c.market, c.symbol, c.volume, c.quote_volume) == ("linear", "BTC/USDT", 452.47, 3866243.2)


def test_mark_price_and_funding_rate_merge_into_funding() -> None:
    v = swap()
    assert v.parse_frame(frame("swap_funding_rate.json"), 1) == []  # no mark price yet: held
    (f,) = v.parse_frame(frame("swap_mark_price.json"), 2)
    assert isinstance(f, FundingRate)
    assert (f.exchange, f.market, f.symbol, f.mark_price, f.index_price) == ("okx", "linear", "BTC/USDT", 42310.6, None)
    assert (f.funding_rate, f.next_funding_time, f.event_time, f.received_at) == (
        0.0001875391284828, 1700726400000, 1630049139746, 2)
    (f,) = v.parse_frame(frame("swap_funding_rate.json").replace("0.0001875391284828", "-0.0002"), 3)
    assert (f.mark_price, f.funding_rate, f.event_time) == (42310.6, -0.0002, 1700724675402)
    # after an unsubscribe the merged state is forgotten
    v.unsubscribe_messages(["mark-price:BTC-USDT-SWAP", "funding-rate:BTC-USDT-SWAP"], 1)
    assert v.parse_frame(frame("swap_funding_rate.json"), 4) == []
    (f,) = v.parse_frame(frame("swap_mark_price.json"), 5)
    assert f.funding_rate == 0.0001875391284828


def test_open_interest_in_base_currency() -> None:
    (oi,) = swap().parse_frame(frame("swap_open_interest.json"), 9)
    assert isinstance(oi, OpenInterest)
    assert (oi.symbol, oi.open_interest, oi.open_interest_value, oi.event_time, oi.received_at) == (
        "BTC/USDT", 50.0, 2115530.0, 1597026383085, 9)


def test_events_pongs_and_errors() -> None:
    v = spot()
    assert v.parse_frame("pong", 1) == [] and v.parse_frame(b"pong", 1) == []
    assert v.is_app_pong("pong") and not v.is_app_pong(frame("unsubscribe_ack.json"))
    assert v.parse_frame(frame("unsubscribe_ack.json"), 1) == [SubscribeAck(None)]
    (err,) = v.parse_frame(frame("error_wrong_url.json"), 1)
    assert not err.ok and err.detail.startswith("code 60018: Wrong URL or channel:candle1m")
    assert v.parse_frame(frame("notice_service_upgrade.json"), 1) == []


def test_spot_has_no_funding_channels() -> None:
    with pytest.raises(RecordError) as info:
        spot().parse_frame(frame("swap_mark_price.json").replace("BTC-USDT-SWAP", "BTC-USDT"), 1)
    assert info.value.reason == "unexpected_stream"


TRADE = pushes("trades", "BTC-USDT")[0][0]
TICKER = pushes("tickers", "BTC-USDT")[0][0]
CANDLE = frame("spot_candle1m_closed.json")


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["15970', "malformed_json"),
    (TRADE.replace('"px":"30236"', '"px":"abc"'), "bad_number"),
    (TRADE.replace('"px":"30236"', '"px":"-1"'), "non_positive_price"),
    (TRADE.replace('"ts":"1652459224818"', '"ts":1652459224818'), "schema_mismatch"),
    (TRADE.replace('"ts":"1652459224818"', '"ts":"soon"'), "bad_time"),
    (TRADE.replace('"tradeId":"338476307"', '"tradeId":"x-1"'), "bad_trade_id"),
    (TRADE.replace('"side":"buy"', '"side":"hold"'), "bad_side"),
    (TRADE.replace('"BTC-USDT"', '"XRP-USDT"'), "unknown_symbol"),
    (TICKER.replace('"bidPx":"30228.6"', '"bidPx":"30300"'), "crossed_quote"),
    (CANDLE.replace('"8553.74"', '"1.0"'), "high_below_low"),
    (CANDLE.replace(',"1"]]', ',"2"]]'), "schema_mismatch"),
    (CANDLE.replace(',"529.5858061","1"]]', ',"1"]]'), "schema_mismatch"),
    (CANDLE.replace('"1597026360000"', '"1597026383085"'), "unaligned_open_time"),
    (CANDLE.replace('"candle1m"', '"candle5m"'), "unexpected_stream"),
    ('{"event":"login","code":"0","msg":""}', "unexpected_frame"),
    ('{"hello":1}', "unexpected_frame"),
    ("[1,2]", "schema_mismatch"),
])
def test_bad_frames_raise_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        spot().parse_frame(raw, 1)
    assert info.value.reason == reason


def test_one_sided_ticker_publishes_no_quote() -> None:
    assert spot().parse_frame(TICKER.replace('"bidPx":"30228.6"', '"bidPx":""'), 1) == []


def test_streams_endpoints_and_requests() -> None:
    s, w = OkxSpotVenue(), OkxSwapVenue()
    assert s.streams_for("BTC/USDT") == ["candle1m:BTC-USDT", "trades:BTC-USDT", "tickers:BTC-USDT"]
    assert w.streams_for("ETH/USDT") == ["candle1m:ETH-USDT-SWAP", "trades:ETH-USDT-SWAP", "tickers:ETH-USDT-SWAP",
                                         "funding-rate:ETH-USDT-SWAP", "mark-price:ETH-USDT-SWAP",
                                         "open-interest:ETH-USDT-SWAP"]
    assert [w.url_key(x) for x in w.streams_for("ETH/USDT")] == ["business"] + [""] * 5
    assert s.connect_url() == "wss://ws.okx.com:8443/ws/v5/public"
    assert s.extra_ws_url("business") == "wss://ws.okx.com:8443/ws/v5/business"
    streams = [f"trades:S{i}-USDT" for i in range(120)]
    msgs = s.subscribe_messages(streams, 7)
    assert [len(json.loads(m)["args"]) for m in msgs] == [50, 50, 20]
    assert json.loads(msgs[0]) == {"op": "subscribe", "args": [{"channel": "trades", "instId": f"S{i}-USDT"}
                                                                for i in range(50)]}
    assert max(len(m.encode()) for m in msgs) < 4096
    assert json.loads(s.unsubscribe_messages(streams[:1], 1)[0])["op"] == "unsubscribe"
    assert s.app_ping_message() == "ping" and s.ws_ping_interval_s is None


def test_registry_reads_both_urls_from_settings() -> None:
    from connectors.registry import make_venue

    env = {"SCANFLOW_OKX_WS_URL": "ws://h/ws/v5/public", "SCANFLOW_OKX_BUSINESS_WS_URL": "ws://h/ws/v5/business",
           "SCANFLOW_OKX_REST_URL": "http://h"}
    for name in ("okx-spot", "okx-swap"):
        v = make_venue(name, environ=env)
        assert (v.connect_url(), v.extra_ws_url("business"), v.config.rest_url) == (
            "ws://h/ws/v5/public", "ws://h/ws/v5/business", "http://h")
    assert make_venue("okx-swap", environ={}).extra_ws_url("business") == "wss://ws.okx.com:8443/ws/v5/business"
    with pytest.raises(ValueError, match="no websocket URL"):
        make_venue("okx-spot", environ=env).extra_ws_url("private")
