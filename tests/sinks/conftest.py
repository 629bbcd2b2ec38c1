"""Fixtures of the sink tests: real 1m candles from the shared market data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sinks.testing import candles_from_ohlcv
from streams.records import Candle


def shared_market_dir() -> Path:
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "market"


def real_candles(n: int, *, symbol: str = "ETH/BTC", file: str = "ETH_BTC-1m.json", exchange: str = "bittrex") -> list[Candle]:
    """The first ``n`` candles of a freqtrade 1m file (JSON [[ts, o, h, l, c, v], ...])."""
    rows = json.loads((shared_market_dir() / "freqtrade" / "history-2019" / file).read_text())
    return candles_from_ohlcv(rows[:n], exchange=exchange, market="spot", symbol=symbol)


@pytest.fixture(scope="session")
def eth_candles() -> list[Candle]:
    return real_candles(3000)
