"""Exponential moving average, TA-Lib ``EMA``: ``k = 2 / (period + 1)``, seeded
with the SMA of the first ``period`` values (sequential sum), then
``ema = (x - ema) * k + ema``. First value at index ``period - 1``.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, check_period


@kernel
def _ema_kernel(x: np.ndarray, period: int, start: int, out: np.ndarray) -> None:
    """EMA whose seed window starts at index ``start`` (NaN before the seed)."""
    k = 2.0 / (period + 1)
    total = 0.0
    prev = 0.0
    for i in range(len(x)):
        j = i - start
        if j < 0:
            out[i] = math.nan
        elif j < period - 1:
            total += x[i]
            out[i] = math.nan
        elif j == period - 1:
            total += x[i]
            prev = total / period
            out[i] = prev
        else:
            prev = ((x[i] - prev) * k) + prev
            out[i] = prev


def ema(x: np.ndarray, period: int = 20) -> np.ndarray:
    check_period("ema", period)
    (a,) = f64("ema", x=x)
    out = empty(len(a))
    _ema_kernel(a, period, 0, out)
    return out


class EMA(Indicator):
    _state = ("_total", "_prev")

    def __init__(self, period: int = 20, start: int = 0) -> None:
        """``start``: inputs to ignore before the seed window (TA-Lib MACD offsets
        its fast EMA this way)."""
        super().__init__()
        self.period = check_period("EMA", period)
        self.start = start
        self.k = 2.0 / (period + 1)
        self.lookback = start + period - 1
        self._total = 0.0
        self._prev = 0.0

    def _step(self, x: float) -> float:
        j = self._n - self.start
        p = self.period
        if j < 0:
            return NAN
        if j < p - 1:
            self._total += x
            return NAN
        if j == p - 1:
            self._total += x
            self._prev = self._total / p
            return self._prev
        self._prev = ((x - self._prev) * self.k) + self._prev
        return self._prev
