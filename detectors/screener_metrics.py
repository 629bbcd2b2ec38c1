"""Screener metrics: pure functions over numpy arrays (no state, no I/O).

The screener ranks symbols by a few liquidity and volatility figures computed
from each symbol's recent candles. Every function returns ``nan`` when there is
not enough data, never raises on short input, and ignores nothing silently:
arrays of different lengths raise ``ValueError`` naming the argument.

* :func:`quote_volume_24h` - sum of quote volume over the bars whose open time is
  within the 24 hours ending at the last bar's close. Without a quote-volume
  column it is approximated as ``close * volume`` per bar.
* :func:`atr_pct` - ATR (:func:`detectors.indicators.atr`: Wilder, TA-Lib seeding) of the last bar as a percentage
  of its close; call it on 5m and on 15m candles (:func:`resample` builds 15m
  from 5m, UTC-aligned) for the "ATR% on 5m and 15m" columns.
* :func:`bb_width_pct` - Bollinger width ``(upper - lower) / middle * 100`` of the
  last bar (SMA middle, population std, ``dev`` deviations).
* :func:`volume_surge_1h` - volume of the last hour over the mean hourly volume
  of the ``lookback_hours`` hours before it (hours ending at the last bar's
  close; a zero mean gives ``nan``).
* :func:`btc_correlation` - Pearson correlation of log returns with BTC over the
  last ``window`` returns of the bars both series share (inner join on open
  time: gaps in either series drop those returns instead of misaligning them).
* :func:`screener_metrics` - all of the above for one symbol as a dict.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators.atr import atr

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def _check(name: str, n: int, arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    if len(a) != n:
        raise ValueError(f"screener_metrics: {name} has {len(a)} values, expected {n}")
    return a


def quote_volume_24h(open_time: np.ndarray, close: np.ndarray, volume: np.ndarray,
                     quote_volume: np.ndarray | None = None, *, tf_ms: int) -> float:
    t = np.asarray(open_time, dtype=np.int64)
    n = len(t)
    if n == 0:
        return math.nan
    c = _check("close", n, close).astype(np.float64)
    v = _check("volume", n, volume).astype(np.float64)
    qv = c * v if quote_volume is None else _check("quote_volume", n, quote_volume).astype(np.float64)
    end = int(t[-1]) + tf_ms
    mask = t >= end - DAY_MS
    return float(np.nansum(qv[mask]))


def atr_pct(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> float:
    c = np.asarray(close, dtype=np.float64)
    n = len(c)
    h = _check("high", n, high).astype(np.float64)
    lo = _check("low", n, low).astype(np.float64)
    if n <= period:
        return math.nan
    last = float(atr(h, lo, c, period)[-1])  # the project's one Wilder ATR (TA-Lib seeding)
    return 100.0 * last / float(c[-1])


def bb_width_pct(close: np.ndarray, period: int = 20, dev: float = 2.0) -> float:
    c = np.asarray(close, dtype=np.float64)
    if len(c) < period:
        return math.nan
    w = c[-period:]
    mid = float(w.mean())
    sd = float(w.std())
    return 100.0 * (2.0 * dev * sd) / mid if mid != 0 else math.nan


def volume_surge_1h(open_time: np.ndarray, volume: np.ndarray, *, tf_ms: int,
                    lookback_hours: int = 24) -> float:
    t = np.asarray(open_time, dtype=np.int64)
    n = len(t)
    if n == 0:
        return math.nan
    v = _check("volume", n, volume).astype(np.float64)
    end = int(t[-1]) + tf_ms
    if int(t[0]) > end - (lookback_hours + 1) * HOUR_MS:
        return math.nan  # not enough history for the baseline
    last = float(v[t >= end - HOUR_MS].sum())
    base_mask = (t >= end - (lookback_hours + 1) * HOUR_MS) & (t < end - HOUR_MS)
    mean = float(v[base_mask].sum()) / lookback_hours
    return last / mean if mean > 0 else math.nan


def btc_correlation(open_time: np.ndarray, close: np.ndarray, btc_open_time: np.ndarray,
                    btc_close: np.ndarray, window: int = 100) -> float:
    t = np.asarray(open_time, dtype=np.int64)
    c = _check("close", len(t), close).astype(np.float64)
    bt = np.asarray(btc_open_time, dtype=np.int64)
    bc = _check("btc_close", len(bt), btc_close).astype(np.float64)
    common, ia, ib = np.intersect1d(t, bt, assume_unique=True, return_indices=True)
    if len(common) < 3:
        return math.nan
    a = c[ia]
    b = bc[ib]
    # returns only between bars that are adjacent in BOTH series
    adj = (np.diff(ia) == 1) & (np.diff(ib) == 1)
    ra = np.log(a[1:] / a[:-1])[adj][-window:]
    rb = np.log(b[1:] / b[:-1])[adj][-window:]
    if len(ra) < 3:
        return math.nan
    sa = ra.std()
    sb = rb.std()
    if sa == 0 or sb == 0:
        return math.nan
    return float(((ra - ra.mean()) * (rb - rb.mean())).mean() / (sa * sb))


def resample(open_time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
             close: np.ndarray, volume: np.ndarray, tf_ms: int) -> tuple[np.ndarray, ...]:
    """OHLCV re-bucketed to ``tf_ms`` buckets aligned to the Unix epoch (UTC);
    a bucket holds whatever source bars fall inside it."""
    t = np.asarray(open_time, dtype=np.int64)
    if len(t) == 0:
        return tuple(np.asarray([], dtype=d) for d in (np.int64,) + (np.float64,) * 5)
    b = t - t % tf_ms
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], len(t)] - 1
    o = np.asarray(open_, dtype=np.float64)[starts]
    h = np.maximum.reduceat(np.asarray(high, dtype=np.float64), starts)
    lo = np.minimum.reduceat(np.asarray(low, dtype=np.float64), starts)
    c = np.asarray(close, dtype=np.float64)[ends]
    v = np.add.reduceat(np.asarray(volume, dtype=np.float64), starts)
    return b[starts], o, h, lo, c, v


def screener_metrics(open_time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                     close: np.ndarray, volume: np.ndarray, *, tf_ms: int,
                     quote_volume: np.ndarray | None = None,
                     btc_open_time: np.ndarray | None = None, btc_close: np.ndarray | None = None,
                     atr_period: int = 14, bb_period: int = 20, corr_window: int = 100) -> dict[str, float]:
    """Every screener column for one symbol from its 5m candles (``tf_ms`` =
    300,000; other timeframes work, the 15m ATR then comes from resampling)."""
    t = np.asarray(open_time, dtype=np.int64)
    n = len(t)
    o = _check("open", n, open_)
    h = _check("high", n, high)
    lo = _check("low", n, low)
    c = _check("close", n, close)
    v = _check("volume", n, volume)
    t15, _o15, h15, l15, c15, _v15 = resample(t, o, h, lo, c, v, 15 * 60_000)
    corr = (btc_correlation(t, c, btc_open_time, btc_close, corr_window)
            if btc_open_time is not None and btc_close is not None else math.nan)
    return {
        "quote_volume_24h": quote_volume_24h(t, c, v, quote_volume, tf_ms=tf_ms),
        "atr_pct_5m": atr_pct(h, lo, c, atr_period) if tf_ms == 300_000 else math.nan,
        "atr_pct_15m": atr_pct(h15, l15, c15, atr_period) if tf_ms <= 900_000 else math.nan,
        "bb_width_pct": bb_width_pct(c, bb_period),
        "volume_surge_1h": volume_surge_1h(t, v, tf_ms=tf_ms),
        "btc_correlation": corr,
    }
