"""Binance stream names and subscribe requests. What the captured frames decode
to, and the bad frames, are the venue contract's (test_venue_contract.py, data
in tests/connectors/fakes/adapters/binance.py)."""

from __future__ import annotations

import pytest

from connectors.binance import BinanceSpotVenue, BinanceUsdmVenue

pytestmark = pytest.mark.unit


def test_streams_and_subscribe_messages() -> None:
    spot, usdm = BinanceSpotVenue(), BinanceUsdmVenue()
    assert spot.streams_for("BTC/USDT") == ["btcusdt@kline_1m", "btcusdt@trade", "btcusdt@bookTicker"]
    assert usdm.streams_for("ETH/USDT") == ["ethusdt@kline_1m", "ethusdt@aggTrade", "ethusdt@bookTicker", "ethusdt@markPrice@1s"]
    streams = [f"s{i}@trade" for i in range(450)]
    msgs = spot.subscribe_messages(streams, 7)
    assert len(msgs) == 3 and '"id":7' in msgs[0] and '"id":9' in msgs[2] and '"method":"SUBSCRIBE"' in msgs[0]
