"""KuCoin quirks of decoding: no close flag, so a kline window seen before a
resubscription is never published from the websocket; topic names and
subscribe requests. What KuCoin's documented frames decode to (a window
published once the next one starts included), and the bad frames, are the
venue contract's (test_venue_contract.py, data in
tests/connectors/fakes/adapters/kucoin.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.kucoin import KucoinFuturesVenue, KucoinSpotVenue
from tests.connectors.fakes.adapters.kucoin import shifted

RES = Path(__file__).parent / "resources" / "kucoin"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


def spot() -> KucoinSpotVenue:
    v = KucoinSpotVenue()
    v.set_symbol_map({"BTC/USDT": "BTC-USDT"})
    return v


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
