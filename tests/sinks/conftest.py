"""Fixtures of the sink tests: real 1m candles from the shared market data."""

from __future__ import annotations

import pytest

from streams.records import Candle
from tests.sinks.lake_data import real_candles


@pytest.fixture(scope="session")
def eth_candles() -> list[Candle]:
    return real_candles(3000)
