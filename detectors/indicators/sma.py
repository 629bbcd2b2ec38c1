"""Simple moving average, TA-Lib ``SMA``.

Running total exactly as TA-Lib keeps it: add the new value, divide by
``period``, then subtract the value leaving the window. First value at index
``period - 1``.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, Ring, check_period


@kernel
def _sma_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:
    total = 0.0
    for i in range(len(x)):
        total += x[i]
        if i >= period - 1:
            out[i] = total / period
            total -= x[i - period + 1]
        else:
            out[i] = math.nan


def sma(x: np.ndarray, period: int = 20) -> np.ndarray:
    check_period("sma", period)
    (a,) = f64("sma", x=x)
    out = empty(len(a))
    _sma_kernel(a, period, out)
    return out


class SMA(Indicator):
    _state = ("_total",)
    _rings = ("_win",)

    def __init__(self, period: int = 20) -> None:
        super().__init__()
        self.period = check_period("SMA", period)
        self.lookback = period - 1
        self._total = 0.0
        self._win = Ring(period)

    def _step(self, x: float) -> float:
        total = self._total + x
        self._win.push(x)
        if self._n >= self.period - 1:
            out = total / self.period
            self._total = total - self._win.oldest()
            return out
        self._total = total
        return NAN
