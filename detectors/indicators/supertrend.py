"""Supertrend (TradingView ``ta.supertrend`` definition; not in TA-Lib).

``hl2 = (high + low) / 2``; bands ``hl2 +/- multiplier * ATR(period)`` (Wilder ATR
as :mod:`detectors.indicators.atr`). The upper band only moves down (it resets
when the previous close was above it), the lower band only moves up (resets when
the previous close was below it). Direction is +1 (up, line = lower band) or -1
(down, line = upper band): it flips up when the close rises above the upper
band and down when it falls below the lower band. The first defined bar (index
``period``) starts down with the plain bands. Returns ``(line, direction)``.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.atr import ATR, _atr_kernel
from detectors.indicators.base import NAN, Indicator, check_period


@kernel
def _supertrend_kernel(h: np.ndarray, lo: np.ndarray, c: np.ndarray, a: np.ndarray,
                       period: int, mult: float, line: np.ndarray, direction: np.ndarray) -> None:
    fu = 0.0
    fl = 0.0
    d = -1.0
    for i in range(len(c)):
        if i < period:
            line[i] = math.nan
            direction[i] = math.nan
            continue
        hl2 = (h[i] + lo[i]) / 2.0
        up = hl2 + mult * a[i]
        dn = hl2 - mult * a[i]
        if i == period:
            fu = up
            fl = dn
            d = -1.0
        else:
            pc = c[i - 1]
            if not (up < fu or pc > fu):
                up = fu
            if not (dn > fl or pc < fl):
                dn = fl
            if d < 0:
                d = 1.0 if c[i] > up else -1.0
            else:
                d = -1.0 if c[i] < dn else 1.0
            fu = up
            fl = dn
        line[i] = fl if d > 0 else fu
        direction[i] = d


def _check(name: str, period: int, multiplier: float) -> None:
    check_period(name, period)
    if not multiplier > 0:
        raise ValueError(f"indicator {name}: multiplier must be > 0, got {multiplier}")


def supertrend(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 10,
               multiplier: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(line, direction)`` with direction +1 (up) / -1 (down)."""
    _check("supertrend", period, multiplier)
    h, lo, c = f64("supertrend", high=high, low=low, close=close)
    n = len(c)
    a = empty(n)
    _atr_kernel(h, lo, c, period, a)
    line, d = empty(n), empty(n)
    _supertrend_kernel(h, lo, c, a, period, float(multiplier), line, d)
    return line, d


class Supertrend(Indicator):
    _state = ("_fu", "_fl", "_d", "_prev_close")
    _children = ("_atr",)

    def __init__(self, period: int = 10, multiplier: float = 3.0) -> None:
        super().__init__()
        _check("Supertrend", period, multiplier)
        self.period, self.multiplier = period, float(multiplier)
        self.lookback = period
        self._atr = ATR(period)
        self._fu = self._fl = 0.0
        self._d = -1.0
        self._prev_close = 0.0
        self._value = (NAN, NAN)

    def _step(self, high: float, low: float, close: float) -> tuple[float, float]:
        a = self._child_step(self._atr, high, low, close)
        pc = self._prev_close
        self._prev_close = close
        i = self._n
        if i < self.period:
            return (NAN, NAN)
        hl2 = (high + low) / 2.0
        up = hl2 + self.multiplier * a
        dn = hl2 - self.multiplier * a
        fu, fl, d = self._fu, self._fl, self._d
        if i == self.period:
            fu, fl, d = up, dn, -1.0
        else:
            if not (up < fu or pc > fu):
                up = fu
            if not (dn > fl or pc < fl):
                dn = fl
            if d < 0:
                d = 1.0 if close > up else -1.0
            else:
                d = -1.0 if close < dn else 1.0
            fu, fl = up, dn
        self._fu, self._fl, self._d = fu, fl, d
        return (fl if d > 0 else fu, d)
