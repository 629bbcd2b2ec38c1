"""Rolling z-score (not in TA-Lib): ``(x - mean) / std`` over the ``period`` values
ending at the current one, population deviation (ddof = 0).

Running sums of ``x`` and ``x^2`` in TA-Lib's ``VAR`` order. A window whose
variance is at most ``1e-12 * mean(x^2)`` (flat, up to rounding of the running
sums) carries no information: its z-score is 0. First value at index
``period - 1``.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, Ring, check_period

FLAT_RELATIVE_VARIANCE = 1e-12


@kernel
def _zscore_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:
    t1 = 0.0
    t2 = 0.0
    for i in range(len(x)):
        v = x[i]
        t1 += v
        t2 += v * v
        if i < period - 1:
            out[i] = math.nan
            continue
        m1 = t1 / period
        m2 = t2 / period
        old = x[i - period + 1]
        t1 -= old
        t2 -= old * old
        var = m2 - m1 * m1
        out[i] = (v - m1) / math.sqrt(var) if var > 1e-12 * m2 else 0.0


def rolling_zscore(x: np.ndarray, period: int = 20) -> np.ndarray:
    check_period("rolling_zscore", period, 2)
    (a,) = f64("rolling_zscore", x=x)
    out = empty(len(a))
    _zscore_kernel(a, period, out)
    return out


class RollingZScore(Indicator):
    _state = ("_t1", "_t2")
    _rings = ("_win",)

    def __init__(self, period: int = 20) -> None:
        super().__init__()
        self.period = check_period("RollingZScore", period, 2)
        self.lookback = period - 1
        self._win = Ring(period)
        self._t1 = 0.0
        self._t2 = 0.0

    def _step(self, x: float) -> float:
        self._win.push(x)
        self._t1 += x
        self._t2 += x * x
        if self._n < self.period - 1:
            return NAN
        p = self.period
        m1 = self._t1 / p
        m2 = self._t2 / p
        old = self._win.oldest()
        self._t1 -= old
        self._t2 -= old * old
        var = m2 - m1 * m1
        return (x - m1) / math.sqrt(var) if var > 1e-12 * m2 else 0.0
