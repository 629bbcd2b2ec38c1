"""Stochastic RSI, TA-Lib ``STOCHRSI`` with an SMA for %D.

``k = 100 * (rsi - min(rsi, fastk_period)) / (max - min)`` (0 when the window is
flat), ``d = SMA(k, fastd_period)``; RSI as in :mod:`detectors.indicators.rsi`.
A window whose RSI range is below 1e-10 RSI points is flat (k = 0, as TA-Lib
does for an exactly flat window): during a flat market the Wilder recursion only
leaves rounding noise, which must not swing %K across 0..100. NaN RSI gives NaN.
Both outputs start at index ``period + fastk_period + fastd_period - 2``, as in
TA-Lib. Returns ``(k, d)``.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, Ring, check_period
from detectors.indicators.rsi import RSI, _rsi_kernel


@kernel
def _stochrsi_kernel(r: np.ndarray, period: int, fk: int, fd: int,
                     k_out: np.ndarray, d_out: np.ndarray) -> None:
    kbuf = np.empty(len(r))
    first_k = period + fk - 1
    first_d = first_k + fd - 1
    total = 0.0
    for i in range(len(r)):
        k_out[i] = math.nan
        d_out[i] = math.nan
        if i < first_k:
            continue
        hi = r[i - fk + 1]
        lo = hi
        for j in range(i - fk + 2, i + 1):
            v = r[j]
            if v > hi:
                hi = v
            if v < lo:
                lo = v
        diff = (hi - lo) / 100.0
        k = (r[i] - lo) / diff if diff > 1e-12 else (0.0 if diff == diff else math.nan)
        kbuf[i] = k
        total += k
        if i >= first_d:
            k_out[i] = k
            d_out[i] = total / fd
            total -= kbuf[i - fd + 1]


def _check(name: str, period: int, fastk_period: int, fastd_period: int) -> None:
    check_period(name, period, 2)
    check_period(name, fastk_period)
    check_period(name, fastd_period)


def stochrsi(close: np.ndarray, period: int = 14, fastk_period: int = 14, fastd_period: int = 3
             ) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(k, d)``."""
    _check("stochrsi", period, fastk_period, fastd_period)
    (c,) = f64("stochrsi", close=close)
    r = empty(len(c))
    _rsi_kernel(c, period, r)
    k, d = empty(len(c)), empty(len(c))
    _stochrsi_kernel(r, period, fastk_period, fastd_period, k, d)
    return k, d


class StochRSI(Indicator):
    _state = ("_total",)
    _rings = ("_rsis", "_ks")
    _children = ("_rsi",)

    def __init__(self, period: int = 14, fastk_period: int = 14, fastd_period: int = 3) -> None:
        super().__init__()
        _check("StochRSI", period, fastk_period, fastd_period)
        self.period, self.fastk_period, self.fastd_period = period, fastk_period, fastd_period
        self._first_k = period + fastk_period - 1
        self.lookback = self._first_k + fastd_period - 1
        self._rsi = RSI(period)
        self._rsis = Ring(fastk_period)
        self._ks = Ring(fastd_period)
        self._total = 0.0
        self._value = (NAN, NAN)

    def _step(self, close: float) -> tuple[float, float]:
        r = self._child_step(self._rsi, close)
        self._rsis.push(r)
        i = self._n
        if i < self._first_k:
            return (NAN, NAN)
        vals = self._rsis.values()
        hi = vals[0]
        lo = hi
        for v in vals[1:]:
            if v > hi:
                hi = v
            if v < lo:
                lo = v
        diff = (hi - lo) / 100.0
        k = (r - lo) / diff if diff > 1e-12 else (0.0 if diff == diff else NAN)
        self._ks.push(k)
        self._total += k
        if i < self.lookback:
            return (NAN, NAN)
        d = self._total / self.fastd_period
        self._total -= self._ks.oldest()
        return (k, d)
