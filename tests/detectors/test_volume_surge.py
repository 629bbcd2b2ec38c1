"""volume_surge: population mean/std of the previous ``window`` volumes, two-pass
and sequential in both paths; threshold, flat window, min_volume, direction; exact
paths on real data with non-default parameters; no drift on large volumes."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scanner_support import REAL_SERIES, CandleBuilder, assert_stream_equals_batch, stream

from detectors import registry

pytestmark = pytest.mark.unit

VOLS = [100.0, 130.0, 80.0, 110.0, 95.0, 120.0, 70.0, 105.0, 90.0, 125.0,
        85.0, 115.0, 100.0, 75.0, 135.0, 90.0, 110.0, 95.0, 105.0, 80.0]


def window_stats(vols: list[float]) -> tuple[float, float]:
    """The documented definition: sequential mean, then sequential squared deviations."""
    total = 0.0
    for x in vols:
        total += x
    mean = total / len(vols)
    ss = 0.0
    for x in vols:
        ss += (x - mean) * (x - mean)
    return mean, math.sqrt(ss / len(vols))


def quiet_then(last: tuple[float, float, float, float, float], vols: list[float] = VOLS) -> CandleBuilder:
    b = CandleBuilder()
    for i, v in enumerate(vols):
        p = 100.0 + (i % 2) * 0.1
        b.add(p, p + 0.5, p - 0.5, p + 0.1, v)  # range 1.0 on every quiet bar
    return b.add(*last)


def test_surge_carries_the_two_pass_population_stats() -> None:
    mean, std = window_stats(VOLS)
    v = mean + 6.0 * std
    b = quiet_then((100.0, 102.0, 99.9, 101.9, v))  # range 2.1, closes near the high
    sigs = stream("volume_surge", b)
    assert len(sigs) == 1
    s = sigs[0]
    f = s.features
    assert (s.signal_type, s.direction, s.open_time) == ("VOLUME_SURGE", "bullish", b.last_open_time)
    assert f["volume_mean"] == mean and f["volume_std"] == std  # bit for bit
    assert f["volume_std"] == pytest.approx(np.std(VOLS), rel=1e-12)
    assert f["zscore"] == (v - mean) / std
    assert f["range_ratio"] == pytest.approx(2.1) and f["close_pos"] == pytest.approx(2.0 / 2.1)
    want = 100.0 * (0.5 * min(1.0, f["zscore"] / 8.0) + 0.25 * min(1.0, 2.1 / 3.0)
                    + 0.25 * abs(2.0 * f["close_pos"] - 1.0))
    assert s.score == pytest.approx(want)
    bear = stream("volume_surge", quiet_then((101.9, 102.0, 99.9, 100.0, v)))
    assert [x.direction for x in bear] == ["bearish"]


def test_threshold_flat_window_and_min_volume() -> None:
    mean, std = window_stats(VOLS)
    below = quiet_then((100.0, 100.5, 99.5, 100.2, mean + 3.9 * std))
    assert stream("volume_surge", below) == []
    assert len(stream("volume_surge", below, threshold_sigma=3.8)) == 1
    flat = quiet_then((100.0, 102.0, 99.0, 101.5, 1e6), vols=[100.0] * 20)  # std 0: no information
    assert stream("volume_surge", flat) == []
    big = quiet_then((100.0, 102.0, 99.0, 101.5, mean + 6.0 * std))
    assert len(stream("volume_surge", big, min_volume=mean + 5.0 * std)) == 1
    assert stream("volume_surge", big, min_volume=mean + 7.0 * std) == []
    with pytest.raises(ValueError, match="volume_surge: window"):
        registry.create("volume_surge", window=1)


def test_no_drift_on_large_volumes_over_a_long_series() -> None:
    """Volumes of ~1e9 varying by a few units: a running sum of squares would lose
    the variance to cancellation; the two-pass window keeps it to ~1e-12."""
    rng = np.random.default_rng(3)
    n = 5000
    vol = 1e9 + rng.integers(0, 20, n).astype(float)
    vol[::97] += 400.0  # surges
    close = 100.0 + np.cumsum(rng.normal(0, 0.1, n))
    frame = pd.DataFrame({"open_time": np.arange(n, dtype=np.int64) * 60_000, "open": close,
                          "high": close + 0.5, "low": close - 0.5, "close": close, "volume": vol})
    sigs = assert_stream_equals_batch("volume_surge", frame)
    assert len(sigs) >= n // 97 - 2
    for s in sigs[-5:]:
        i = int(s.open_time // 60_000)
        window = vol[i - 20:i].tolist()
        assert s.features["volume_mean"] == pytest.approx(statistics.fmean(window), rel=1e-15)
        assert s.features["volume_std"] == pytest.approx(statistics.pstdev(window), rel=1e-12)


@pytest.mark.parametrize("params", [{}, {"window": 5, "threshold_sigma": 2.5, "min_volume": 1.0}])
@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str, params: dict) -> None:
    sigs = assert_stream_equals_batch("volume_surge", REAL_SERIES[series](), **params)
    assert sigs and all(s.features["zscore"] >= params.get("threshold_sigma", 4.0) for s in sigs)
