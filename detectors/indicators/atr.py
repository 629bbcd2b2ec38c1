"""Average true range, TA-Lib ``ATR`` (Wilder): true range from the second bar
(``max(high - low, |high - prev_close|, |low - prev_close|)``), seeded with the
mean of the first ``period`` true ranges, then
``atr = (atr * (period - 1) + tr) / period``. First value at index ``period``.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, check_period


@kernel
def true_range(h: float, lo: float, prev_close: float) -> float:
    tr = h - lo
    t = abs(prev_close - h)
    if t > tr:
        tr = t
    t = abs(prev_close - lo)
    if t > tr:
        tr = t
    return tr


@kernel
def _atr_kernel(h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int, out: np.ndarray) -> None:
    total = 0.0
    atr = 0.0
    for i in range(len(c)):
        if i == 0:
            out[i] = math.nan
            continue
        tr = true_range(h[i], lo[i], c[i - 1])
        if i < period:
            total += tr
            out[i] = math.nan
        elif i == period:
            total += tr
            atr = total / period
            out[i] = atr
        else:
            atr *= period - 1
            atr += tr
            atr /= period
            out[i] = atr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    check_period("atr", period)
    h, lo, c = f64("atr", high=high, low=low, close=close)
    out = empty(len(c))
    _atr_kernel(h, lo, c, period, out)
    return out


def _true_range_py(h: float, lo: float, prev_close: float) -> float:
    tr = h - lo
    t = abs(prev_close - h)
    if t > tr:
        tr = t
    t = abs(prev_close - lo)
    if t > tr:
        tr = t
    return tr


class ATR(Indicator):
    _state = ("_total", "_atr", "_prev_close")

    def __init__(self, period: int = 14) -> None:
        super().__init__()
        self.period = check_period("ATR", period)
        self.lookback = period
        self._total = 0.0
        self._atr = 0.0
        self._prev_close = 0.0

    def _step(self, high: float, low: float, close: float) -> float:
        i = self._n
        p = self.period
        prev = self._prev_close
        self._prev_close = close
        if i == 0:
            return NAN
        tr = _true_range_py(high, low, prev)
        if i < p:
            self._total += tr
            return NAN
        if i == p:
            self._total += tr
            self._atr = self._total / p
            return self._atr
        a = self._atr * (p - 1)
        a += tr
        a /= p
        self._atr = a
        return a
