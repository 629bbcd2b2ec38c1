"""Bollinger bands, TA-Lib ``BBANDS`` with an SMA middle band, and their width.

``middle = SMA(close, period)`` (TA-Lib's running total); ``std`` is the population
deviation around ``middle``, summed over the window's values each bar (O(period),
no running sum of squares: that cancels catastrophically at high prices and
drifts in a 24/7 stream; TA-Lib agrees to ~1e-12); ``upper = middle +
std * nbdev_up``, ``lower = middle - std * nbdev_dn``. First value at index
``period - 1``. ``bb_width = (upper - lower) / middle`` (a fraction; x100 for %).
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
    for i in range(len(x)):
        total += x[i]
        if i < period - 1:
            upper[i] = math.nan
            middle[i] = math.nan
            lower[i] = math.nan
            continue
        mid = total / period
        total -= x[i - period + 1]
        ss = 0.0
        for j in range(i - period + 1, i + 1):
            d = x[j] - mid
            ss += d * d
        var = ss / period
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
    _state = ("_total",)
    _rings = ("_win",)

    def __init__(self, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> None:
        super().__init__()
        _check("BBands", period, nbdev_up, nbdev_dn)
        self.period = period
        self.nbdev_up, self.nbdev_dn = float(nbdev_up), float(nbdev_dn)
        self.lookback = period - 1
        self._win = Ring(period)
        self._total = 0.0
        self._value = (NAN, NAN, NAN)

    def _step(self, close: float) -> tuple[float, float, float]:
        self._win.push(close)
        self._total += close
        if self._n < self.period - 1:
            return (NAN, NAN, NAN)
        p = self.period
        mid = self._total / p
        self._total -= self._win.oldest()
        ss = 0.0
        for v in self._win.values():
            d = v - mid
            ss += d * d
        var = ss / p
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
