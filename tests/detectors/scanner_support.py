"""Test support for the continuous scanner and VSA detectors (engineer B's tests):
real candle loaders, a hand-built candle builder and the streaming == batch check."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pandas as pd

from detectors import registry
from detectors.base import Bar
from detectors.records import Signal
from tests.market import shared_market_dir  # the one place that knows where shared/ is


def load_feather(rel: str) -> pd.DataFrame:
    """A freqtrade-style feather file (date[UTC], open, high, low, close, volume)."""
    df = pd.read_feather(shared_market_dir() / rel)
    out = df[["open", "high", "low", "close", "volume"]].copy()
    out.insert(0, "open_time", df["date"].astype("int64") // 1_000_000)
    return out.reset_index(drop=True)


def load_nautilus_perp(rows: int | None = None) -> pd.DataFrame:
    """FTX BTC-PERP 1m (nautilus_trader), a month of real bars."""
    df = pd.read_csv(shared_market_dir() / "nautilus_trader" / "btc-perp-20211231-20220201_1m.csv", nrows=rows)
    t = pd.to_datetime(df["timestamp"], utc=True).dt.as_unit("ms").astype("int64")  # whatever unit pandas parsed into
    out = df[["open", "high", "low", "close", "volume"]].copy()
    out.insert(0, "open_time", t)
    return out


#: Real series used by every engineer-B detector test: gaps, flat bars, tiny prices.
REAL_SERIES = {
    "unittest_btc_1m": lambda: load_feather("freqtrade/UNITTEST_BTC-1m.feather"),
    "xrp_eth_1m": lambda: load_feather("freqtrade/XRP_ETH-1m.feather"),
    "ada_btc_5m": lambda: load_feather("freqtrade/ADA_BTC-5m.feather"),
    "ftx_btc_perp_1m": lambda: load_nautilus_perp(20_000),
}


def without_emitted_at(sig: Signal) -> dict[str, Any]:
    d = msgspec.to_builtins(sig)
    d.pop("emitted_at")
    return d


def assert_stream_equals_batch(name: str, frame: pd.DataFrame, **params: Any) -> list[Signal]:
    """Both paths on the same frame must give the same signals, field for field."""
    streamed = registry.run_stream(name, frame, **params)
    batched = registry.create(name, **params).run_batch(frame)
    s = [without_emitted_at(x) for x in streamed]
    b = [without_emitted_at(x) for x in batched]
    assert len(s) == len(b), f"{name}: streaming gave {len(s)} signals, batch {len(b)}"
    for x, y in zip(s, b, strict=True):
        assert x == y, f"{name}: first difference at open_time {x['open_time']}:\n{x}\n{y}"
    return streamed


class CandleBuilder:
    """Hand-built candle sequences: ``add(o, h, l, c, v)`` appends one 1m bar."""

    def __init__(self, start_ms: int = 1_700_000_000_000 - 1_700_000_000_000 % 60_000) -> None:
        self.t = start_ms
        self.rows: list[tuple[int, float, float, float, float, float]] = []

    def add(self, o: float, h: float, low: float, c: float, v: float) -> CandleBuilder:
        self.rows.append((self.t, float(o), float(h), float(low), float(c), float(v)))
        self.t += 60_000
        return self

    def flat(self, n: int, price: float = 100.0, volume: float = 100.0, wiggle: float = 0.5) -> CandleBuilder:
        """``n`` quiet bars alternating up/down around ``price`` (no trend, no streak)."""
        for i in range(n):
            o, c = (price - wiggle / 2, price + wiggle / 2) if i % 2 else (price + wiggle / 2, price - wiggle / 2)
            self.add(o, price + wiggle, price - wiggle, c, volume)
        return self

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["open_time", "open", "high", "low", "close", "volume"])

    @property
    def last_open_time(self) -> int:
        return self.rows[-1][0]

    def bars(self) -> list[Bar]:
        return [Bar(*r) for r in self.rows]


def stream(name: str, builder: CandleBuilder, **params: Any) -> list[Signal]:
    return registry.run_stream(name, builder.frame(), **params)


def signals_at(signals: list[Signal], open_time: int) -> list[Signal]:
    return [s for s in signals if s.open_time == open_time]


def random_walk(n: int, seed: int = 7) -> pd.DataFrame:
    """A long synthetic series for state-boundedness checks."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, n))
    vol = rng.lognormal(4, 0.8, n)
    t = np.arange(n, dtype=np.int64) * 60_000
    return pd.DataFrame({"open_time": t, "open": open_, "high": high, "low": low, "close": close, "volume": vol})


def _bars(frame: pd.DataFrame) -> list[Bar]:
    return [Bar(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
            for r in frame[["open_time", "open", "high", "low", "close", "volume"]].itertuples(index=False)]


def assert_checkpoint_and_correction_exact(name: str, frame: pd.DataFrame, **params: Any) -> None:
    """Restoring a checkpoint mid-series, and correcting a last bar, change nothing."""
    bars = _bars(frame)
    ref = registry.create(name, **params)
    expected = [[without_emitted_at(s) for s in ref.update_bar(b)] for b in bars]
    half = len(bars) // 2
    det = registry.create(name, **params)
    for b in bars[:half]:
        det.update_bar(b)
    blob = det.get_state()
    restored = registry.create(name, **params)
    restored.set_state(blob)
    # redelivery of the checkpointed last bar returns the same signals, changes nothing
    assert [without_emitted_at(s) for s in restored.update_bar(bars[half - 1])] == expected[half - 1]
    # correction: a wrong version of the next bar, then the right one
    b = bars[half]
    wrong = Bar(b.open_time, b.open, b.high * 1.05, b.low, b.high * 1.04, b.volume * 7 + 1)
    restored.update_bar(wrong)
    got = [[without_emitted_at(s) for s in restored.update_bar(x)] for x in bars[half:]]
    assert got == expected[half:], f"{name}: state after checkpoint + correction diverged"
    assert len(restored.get_state()) < 64_000, f"{name}: checkpoint is {len(restored.get_state())} bytes"
