"""OKX v5 decoding beyond the venue contract (test_venue_contract.py, data in
tests/connectors/fakes/adapters/okx.py): every trades and tickers frame and
every ack of the real capture (cryptofeed ``OKX.ws.1.0``, read in place)
checked against its raw values; swap sizes need the contract value; funding
and mark pushes merge (and are forgotten on unsubscribe); a one-sided ticker
is no quote; endpoints, requests and URL settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.okx import OkxSpotVenue, OkxSwapVenue
from connectors.records import SubscribeAck
from streams.records import Quote, RecordError, Tick
from tests.connectors.fakes.adapters.okx import captured, pushes

RES = Path(__file__).parent / "resources" / "okx"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


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


def test_mark_price_and_funding_rate_merge_into_funding() -> None:
    """The first merge (funding held until a mark price) is the contract's; here: later pushes update
    what is known, and an unsubscribe forgets it."""
    v = swap()
    assert v.parse_frame(frame("swap_funding_rate.json"), 1) == []
    (f,) = v.parse_frame(frame("swap_mark_price.json"), 2)
    assert (f.mark_price, f.funding_rate) == (42310.6, 0.0001875391284828)
    (f,) = v.parse_frame(frame("swap_funding_rate.json").replace("0.0001875391284828", "-0.0002"), 3)
    assert (f.mark_price, f.funding_rate, f.event_time) == (42310.6, -0.0002, 1700724675402)
    # after an unsubscribe the merged state is forgotten
    v.unsubscribe_messages(["mark-price:BTC-USDT-SWAP", "funding-rate:BTC-USDT-SWAP"], 1)
    assert v.parse_frame(frame("swap_funding_rate.json"), 4) == []
    (f,) = v.parse_frame(frame("swap_mark_price.json"), 5)
    assert f.funding_rate == 0.0001875391284828


def test_app_pong_is_recognised() -> None:
    v = spot()
    assert v.is_app_pong("pong") and not v.is_app_pong(frame("unsubscribe_ack.json"))


TICKER = pushes("tickers", "BTC-USDT")[0][0]


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
