"""Weighted moving average, TA-Lib ``WMA``: weights 1..period (newest heaviest),
kept with TA-Lib's running ``period_sum`` / ``period_sub`` recursion. First value
at index ``period - 1``.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, Ring, check_period


@kernel
def _wma_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:
    divider = (period * (period + 1)) >> 1
    psum = 0.0
    psub = 0.0
    trailing = 0.0
    for i in range(len(x)):
        v = x[i]
        if i < period - 1:
            psub += v
            psum += v * (i + 1)
            out[i] = math.nan
        else:
            psub += v
            psub -= trailing
            psum += v * period
            trailing = x[i - period + 1]
            out[i] = psum / divider
            psum -= psub


def wma(x: np.ndarray, period: int = 20) -> np.ndarray:
    check_period("wma", period)
    (a,) = f64("wma", x=x)
    out = empty(len(a))
    _wma_kernel(a, period, out)
    return out


class WMA(Indicator):
    _state = ("_sum", "_sub", "_trailing")
    _rings = ("_win",)

    def __init__(self, period: int = 20) -> None:
        super().__init__()
        self.period = check_period("WMA", period)
        self.lookback = period - 1
        self._divider = (period * (period + 1)) >> 1
        self._sum = 0.0
        self._sub = 0.0
        self._trailing = 0.0
        self._win = Ring(period)

    def _step(self, x: float) -> float:
        self._win.push(x)
        p = self.period
        if self._n < p - 1:
            self._sub += x
            self._sum += x * (self._n + 1)
            return NAN
        self._sub += x
        self._sub -= self._trailing
        self._sum += x * p
        self._trailing = self._win.oldest()
        out = self._sum / self._divider
        self._sum -= self._sub
        return out
