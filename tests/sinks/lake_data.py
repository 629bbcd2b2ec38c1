"""Real candles for sink and API tests, read in place from the shared market data."""

from __future__ import annotations

import json

from sinks.testing import candles_from_ohlcv
from streams.records import Candle
from tests.market import market_file


def real_candles(n: int, *, file: str = "ETH_BTC-1m.json", symbol: str = "ETH/BTC",
                 exchange: str = "bittrex") -> list[Candle]:
    """The first ``n`` candles of a freqtrade 1m file (JSON ``[[ts, o, h, l, c, v], ...]``)."""
    rows = json.loads(market_file(f"freqtrade/history-2019/{file}").read_text())
    return candles_from_ohlcv(rows[:n], exchange=exchange, market="spot", symbol=symbol)
