"""Heikin Ashi candles (not in TA-Lib).

``ha_close = (open + high + low + close) / 4``; ``ha_open = (open + close) / 2`` on
the first bar, then ``(prev_ha_open + prev_ha_close) / 2``;
``ha_high = max(high, ha_open, ha_close)``, ``ha_low = min(low, ha_open,
ha_close)``. Defined from the first bar. Returns ``(open, high, low, close)``.
"""

from __future__ import annotations

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator


@kernel
def _ha_kernel(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
               ho: np.ndarray, hh: np.ndarray, hl: np.ndarray, hc: np.ndarray) -> None:
    po = 0.0
    pc = 0.0
    for i in range(len(c)):
        x = (o[i] + h[i] + lo[i] + c[i]) / 4.0
        y = (o[i] + c[i]) / 2.0 if i == 0 else (po + pc) / 2.0
        hi = h[i]
        if y > hi:
            hi = y
        if x > hi:
            hi = x
        low = lo[i]
        if y < low:
            low = y
        if x < low:
            low = x
        ho[i] = y
        hh[i] = hi
        hl[i] = low
        hc[i] = x
        po = y
        pc = x


def heikin_ashi(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(ha_open, ha_high, ha_low, ha_close)``."""
    o, h, lo, c = f64("heikin_ashi", open=open_, high=high, low=low, close=close)
    n = len(c)
    outs = empty(n), empty(n), empty(n), empty(n)
    _ha_kernel(o, h, lo, c, *outs)
    return outs


class HeikinAshi(Indicator):
    _state = ("_po", "_pc")

    def __init__(self) -> None:
        super().__init__()
        self.lookback = 0
        self._po = 0.0
        self._pc = 0.0
        self._value = (NAN, NAN, NAN, NAN)

    def _step(self, open_: float, high: float, low: float, close: float
              ) -> tuple[float, float, float, float]:
        x = (open_ + high + low + close) / 4.0
        y = (open_ + close) / 2.0 if self._n == 0 else (self._po + self._pc) / 2.0
        hi = high
        if y > hi:
            hi = y
        if x > hi:
            hi = x
        lo = low
        if y < lo:
            lo = y
        if x < lo:
            lo = x
        self._po = y
        self._pc = x
        return (y, hi, lo, x)
