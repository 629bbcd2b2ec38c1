"""Trailing-window statistics and Wilder RSI, streaming and batch, bit-identical.

Exactness rule: a trailing sum is always accumulated oldest-to-newest starting from
``0.0`` (``((0 + x0) + x1) + ...``). The streaming side does it over a ring buffer
(:func:`seq_sum`), the batch side with one vectorized add per window position
(:func:`trailing_sum`), so both round identically. Extremes (max/min) and integer
counts are order-independent and need no care.

"Trailing" windows end *before* the current bar: ``trailing_mean(a, w)[i]`` is the
mean of ``a[i-w:i]`` and is NaN for ``i < w``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from functools import reduce
from operator import add

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

if sys.version_info < (3, 12):
    # CPython <= 3.11 ``sum`` adds floats left to right in a C double: exactly the
    # order trailing_sum uses, and the fastest option.
    def seq_sum(values: Iterable[float]) -> float:
        """Left-to-right float sum starting from 0.0 (matches :func:`trailing_sum`)."""
        return sum(values, 0.0)

else:  # pragma: no cover - 3.12 made ``sum`` compensated, which numpy cannot mirror
    def seq_sum(values: Iterable[float]) -> float:
        """Left-to-right float sum starting from 0.0 (matches :func:`trailing_sum`)."""
        return float(reduce(add, values, 0.0))


def trailing_sum(a: np.ndarray, w: int) -> np.ndarray:
    """``out[i] = sum(a[i-w:i])`` added oldest first; NaN for ``i < w``."""
    n = len(a)
    out = np.full(n, np.nan)
    if n <= w:
        return out
    m = n - w
    acc = np.zeros(m) + a[0:m]
    for k in range(1, w):
        acc += a[k:k + m]
    out[w:] = acc
    return out


def trailing_mean(a: np.ndarray, w: int) -> np.ndarray:
    """``out[i] = mean(a[i-w:i])`` (sequential sum divided by ``w``); NaN for ``i < w``."""
    return trailing_sum(a, w) / w


def trailing_max(a: np.ndarray, w: int) -> np.ndarray:
    """``out[i] = max(a[i-w:i])``; NaN for ``i < w``."""
    out = np.full(len(a), np.nan)
    if len(a) > w:
        out[w:] = sliding_window_view(a, w)[:-1].max(axis=1)
    return out


def trailing_min(a: np.ndarray, w: int) -> np.ndarray:
    """``out[i] = min(a[i-w:i])``; NaN for ``i < w``."""
    out = np.full(len(a), np.nan)
    if len(a) > w:
        out[w:] = sliding_window_view(a, w)[:-1].min(axis=1)
    return out


def shift(a: np.ndarray, k: int, fill: float = np.nan) -> np.ndarray:
    """``out[i] = a[i-k]`` (``k >= 1``), ``fill`` where that does not exist."""
    out = np.full(len(a), fill, dtype=np.result_type(a.dtype, type(fill)))
    if k < len(a):
        out[k:] = a[: len(a) - k]
    return out


def run_length(flags: np.ndarray) -> np.ndarray:
    """``out[i]`` = number of consecutive True values ending at ``i`` (0 if False)."""
    n = len(flags)
    idx = np.arange(n)
    last_false = np.maximum.accumulate(np.where(flags, -1, idx))
    return np.where(flags, idx - last_false, 0).astype(np.int64)


def close_streaks(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive higher closes / lower closes ending at each bar (close-to-close)."""
    prev = shift(close, 1)
    with np.errstate(invalid="ignore"):
        up = close > prev
        down = close < prev
    return run_length(up), run_length(down)


class CloseStreak:
    """Streaming :func:`close_streaks`: counts of consecutive higher / lower closes."""

    __slots__ = ("prev", "up", "down")

    def __init__(self) -> None:
        self.prev = math.nan
        self.up = 0
        self.down = 0

    def update(self, close: float) -> None:
        prev = self.prev
        self.up = self.up + 1 if close > prev else 0
        self.down = self.down + 1 if close < prev else 0
        self.prev = close


class WilderRSI:
    """Streaming RSI with TA-Lib's arithmetic (Wilder smoothing, SMA seed).

    ``value`` is NaN until ``period + 1`` closes were seen. When the average gain
    and loss are both exactly zero (a flat market) the value is 50 - TA-Lib prints
    0 there, which would read as "oversold" to a detector.
    """

    __slots__ = ("period", "prev", "count", "gain", "loss", "value")

    def __init__(self, period: int) -> None:
        self.period = period
        self.prev = math.nan
        self.count = 0
        self.gain = 0.0
        self.loss = 0.0
        self.value = math.nan

    def update(self, close: float) -> float:
        p = self.period
        n = self.count
        self.count = n + 1
        if n == 0:
            self.prev = close
            return self.value
        diff = close - self.prev
        self.prev = close
        if n <= p:  # accumulating the seed
            if diff < 0:
                self.loss -= diff
            else:
                self.gain += diff
            if n < p:
                return self.value
            self.loss /= p
            self.gain /= p
        else:
            loss = self.loss * (p - 1)
            gain = self.gain * (p - 1)
            if diff < 0:
                loss -= diff
            else:
                gain += diff
            self.loss = loss / p
            self.gain = gain / p
        total = self.gain + self.loss
        self.value = 100.0 * (self.gain / total) if total != 0.0 else 50.0
        return self.value


def rsi_series(close: np.ndarray, period: int) -> np.ndarray:
    """Batch :class:`WilderRSI` (same scalar arithmetic, so bit-identical)."""
    out = np.full(len(close), np.nan)
    if len(close) <= period:
        return out
    state = WilderRSI(period)
    values = close.tolist()
    upd = state.update
    res = [upd(x) for x in values]
    out[:] = res
    return out
