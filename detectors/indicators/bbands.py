"""Bollinger bands, TA-Lib ``BBANDS`` with an SMA middle band, and their width.

``middle = SMA(close, period)``; ``std = sqrt(mean(close^2) - middle^2)`` with the
running sum of squares TA-Lib keeps (population deviation); ``upper = middle +
std * nbdev_up``, ``lower = middle - std * nbdev_dn``. First value at index
``period - 1``. ``bb_width = (upper - lower) / middle`` (a fraction; x100 for %).

Deliberate difference from TA-Lib: TA-Lib zeroes the deviation whenever the
variance is below 1e-8 in absolute terms (every low-priced pair); here only a
variance <= 0 gives a zero deviation.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, Ring, check_period


@kernel
def _bbands_kernel(x: np.ndarray, period: int, up: float, dn: float,
                   upper: np.ndarray, middle: np.ndarray, lower: np.ndarray) -> None:
    total = 0.0
    total2 = 0.0
    for i in range(len(x)):
        v = x[i]
        total += v
        total2 += v * v
        if i < period - 1:
            upper[i] = math.nan
            middle[i] = math.nan
            lower[i] = math.nan
            continue
        mid = total / period
        old = x[i - period + 1]
        total -= old
        mean2 = total2 / period
        total2 -= old * old
        var = mean2 - mid * mid
        std = math.sqrt(var) if var > 0.0 else 0.0
        middle[i] = mid
        upper[i] = mid + std * up
        lower[i] = mid - std * dn


def _check(name: str, period: int, nbdev_up: float, nbdev_dn: float) -> None:
    check_period(name, period, 2)
    if not (nbdev_up >= 0 and nbdev_dn >= 0):
        raise ValueError(f"indicator {name}: nbdev_up/nbdev_dn must be >= 0, got {nbdev_up}/{nbdev_dn}")


def bbands(close: np.ndarray, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(upper, middle, lower)``."""
    _check("bbands", period, nbdev_up, nbdev_dn)
    (c,) = f64("bbands", close=close)
    n = len(c)
    u, m, lo = empty(n), empty(n), empty(n)
    _bbands_kernel(c, period, float(nbdev_up), float(nbdev_dn), u, m, lo)
    return u, m, lo


def bb_width(close: np.ndarray, period: int = 20, nbdev: float = 2.0) -> np.ndarray:
    """``(upper - lower) / middle``."""
    u, m, lo = bbands(close, period, nbdev, nbdev)
    return (u - lo) / m


class BBands(Indicator):
    _state = ("_total", "_total2")
    _rings = ("_win",)

    def __init__(self, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> None:
        super().__init__()
        _check("BBands", period, nbdev_up, nbdev_dn)
        self.period = period
        self.nbdev_up, self.nbdev_dn = float(nbdev_up), float(nbdev_dn)
        self.lookback = period - 1
        self._win = Ring(period)
        self._total = 0.0
        self._total2 = 0.0
        self._value = (NAN, NAN, NAN)

    def _step(self, close: float) -> tuple[float, float, float]:
        self._win.push(close)
        self._total += close
        self._total2 += close * close
        if self._n < self.period - 1:
            return (NAN, NAN, NAN)
        p = self.period
        mid = self._total / p
        old = self._win.oldest()
        self._total -= old
        mean2 = self._total2 / p
        self._total2 -= old * old
        var = mean2 - mid * mid
        std = math.sqrt(var) if var > 0.0 else 0.0
        return (mid + std * self.nbdev_up, mid, mid - std * self.nbdev_dn)


class BBWidth(Indicator):
    _children = ("_bb",)

    def __init__(self, period: int = 20, nbdev: float = 2.0) -> None:
        super().__init__()
        self._bb = BBands(period, nbdev, nbdev)
        self.lookback = self._bb.lookback

    def _step(self, close: float) -> float:
        u, m, lo = self._child_step(self._bb, close)
        return (u - lo) / m
