"""Helpers for engineer C's detector tests: hand-built candle frames, a few real
candle files, and the streaming-vs-batch comparison.

Real data is read in place from ``../shared/data/market`` (never copied)."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pandas as pd

from detectors.base import Bar, Detector, frame_to_arrays
from detectors.records import Signal
from tests.market import shared_market_dir  # the one place that knows where shared/ is

MINUTE = 60_000
T0 = 1_700_000_000_000 - (1_700_000_000_000 % (60 * MINUTE))  # an aligned hour




def frame(rows: list[tuple[float, float, float, float, float]], *, step: int = MINUTE,
          t0: int = T0) -> pd.DataFrame:
    """A candle frame from (open, high, low, close, volume) rows, one ``step`` apart."""
    arr = np.asarray(rows, dtype=np.float64)
    return pd.DataFrame({
        "open_time": t0 + step * np.arange(len(rows), dtype=np.int64),
        "open": arr[:, 0], "high": arr[:, 1], "low": arr[:, 2], "close": arr[:, 3],
        "volume": arr[:, 4],
    })


def trend_rows(start: float, step: float, n: int, *, volume: float = 100.0,
               wick: float = 0.2) -> list[tuple[float, float, float, float, float]]:
    """``n`` bars drifting by ``step`` per bar (bodies open->close, small wicks)."""
    rows = []
    price = start
    for _ in range(n):
        o, c = price, price + step
        rows.append((o, max(o, c) + wick, min(o, c) - wick, c, volume))
        price = c
    return rows


def load_feather(rel: str) -> pd.DataFrame:
    df = pd.read_feather(shared_market_dir() / rel)
    out = pd.DataFrame({
        "open_time": df["date"].astype("int64") // 1_000_000,
        "open": df["open"], "high": df["high"], "low": df["low"], "close": df["close"],
        "volume": df["volume"],
    })
    return out


def load_ftx_perp(rows: int | None = None) -> pd.DataFrame:
    """FTX BTC-PERP 1m (nautilus_trader): 45k bars, USD volume."""
    df = pd.read_csv(shared_market_dir() / "nautilus_trader" / "btc-perp-20211231-20220201_1m.csv",
                     nrows=rows)
    ts = pd.to_datetime(df["timestamp"], utc=True)
    return pd.DataFrame({
        "open_time": ts.dt.as_unit("ms").astype("int64"),  # whatever unit pandas parsed into
        "open": df["open"], "high": df["high"], "low": df["low"], "close": df["close"],
        "volume": df["volume"],
    })


REAL_FILES = {
    # gaps + 1935 flat bars (o=h=l=c)
    "unittest_1m": "freqtrade/UNITTEST_BTC-1m.feather",
    # Binance spot, 1091 missing bars, 963 flat bars
    "xrp_eth_1m": "freqtrade/XRP_ETH-1m.feather",
    # Binance USDT-M futures candles
    "xrp_usdt_5m_futures": "freqtrade/futures/XRP_USDT_USDT-5m-futures.feather",
    # Bittrex 5m, 5 gaps
    "ada_btc_5m": "freqtrade/ADA_BTC-5m.feather",
}


def real(name: str) -> pd.DataFrame:
    if name == "ftx_perp_1m":
        return load_ftx_perp(12_000)
    return load_feather(REAL_FILES[name])


def stream(det: Detector, df: Any, *, tf: str = "1m") -> list[Signal]:
    from detectors.base import SeriesMeta

    det.meta = SeriesMeta("test", "spot", "TEST/USDT", tf)
    bars = frame_to_arrays(df)
    out: list[Signal] = []
    for i in range(len(bars)):
        out.extend(det.update_bar(Bar(int(bars.open_time[i]), float(bars.open[i]), float(bars.high[i]),
                                      float(bars.low[i]), float(bars.close[i]), float(bars.volume[i]))))
    return out


def comparable(signals: list[Signal]) -> list[dict[str, Any]]:
    """Every field but ``emitted_at``."""
    rows = []
    for s in signals:
        d = msgspec.to_builtins(s)
        d.pop("emitted_at")
        rows.append(d)
    return rows


def assert_stream_equals_batch(det_factory: Any, df: pd.DataFrame, *, tf: str = "1m") -> list[Signal]:
    batch = det_factory().run_batch(df, exchange="test", market="spot", symbol="TEST/USDT", tf=tf)
    streamed = stream(det_factory(), df, tf=tf)
    assert comparable(streamed) == comparable(batch)
    return batch


def exact(signals: list[Signal]) -> list[bytes]:
    """Every field but ``emitted_at`` as JSON bytes: types (1 vs 1.0 vs true), exact
    floats and the order of feature keys all count."""
    return [msgspec.json.encode(msgspec.structs.replace(s, emitted_at=0)) for s in signals]


def assert_column_builder_matches(det: Any, df: pd.DataFrame) -> list[Signal]:
    """A compiled-state detector's column-wise batch builder (``_batch_signals``)
    gives exactly the signals of its per-hit builder ``_signal`` (the one
    streaming uses) for every hit of ``df``, and a batch run, which builds them in
    rounds of hits, gives the same again."""
    from detectors.base import SeriesMeta
    from detectors.patterns.compiled_state import CompiledStateDetector

    bars = frame_to_arrays(df)
    meta = SeriesMeta("test", "spot", "TEST/USDT", "1m")
    at, vals = det.core.batch(det._prm, bars.open, bars.high, bars.low, bars.close, bars.volume)
    fast = det._batch_signals(bars, meta, at, vals)
    per_hit = CompiledStateDetector._batch_signals(det, bars, meta, at, vals)
    assert len(fast) == len(at) > 0
    assert exact(fast) == exact(per_hit)
    assert exact(det._run_arrays(bars, meta)) == exact(fast)
    return fast
