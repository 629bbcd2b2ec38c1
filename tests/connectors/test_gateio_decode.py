"""Gate.io v4 stream names and subscription requests (Gate's form: one
``[interval, pair]`` per candlestick request, pair lists elsewhere). What
Gate's documented frames decode to, and the bad frames, are the venue
contract's (test_venue_contract.py, data in tests/connectors/fakes/adapters/gateio.py)."""

from __future__ import annotations

import json

import pytest

from connectors.gateio import GateioFuturesVenue, GateioSpotVenue

pytestmark = pytest.mark.unit


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
