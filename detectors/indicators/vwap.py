"""Volume-weighted average price anchored to the UTC day (not in TA-Lib).

``typical = (high + low + close) / 3``; from the first bar of each UTC day
(``open_time // 86_400_000`` changes) ``vwap = sum(typical * volume) /
sum(volume)``. While the day's volume is still 0 (zero-volume bars) the VWAP is
the bar's typical price. Defined from the first bar.
"""

from __future__ import annotations

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import Indicator

DAY_MS = 86_400_000


@kernel
def _vwap_kernel(t: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
                 out: np.ndarray) -> None:
    day = -1
    pv = 0.0
    vol = 0.0
    for i in range(len(c)):
        d = t[i] // 86_400_000
        if d != day:
            day = d
            pv = 0.0
            vol = 0.0
        tp = (h[i] + lo[i] + c[i]) / 3.0
        pv += tp * v[i]
        vol += v[i]
        out[i] = pv / vol if vol > 0.0 else tp


def vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
         open_time: np.ndarray) -> np.ndarray:
    """``open_time`` in integer UTC milliseconds."""
    h, lo, c, v = f64("vwap", high=high, low=low, close=close, volume=volume)
    t = np.ascontiguousarray(open_time, dtype=np.int64)
    if len(t) != len(c):
        raise ValueError(f"indicator vwap: open_time has {len(t)} values, prices have {len(c)}")
    out = empty(len(c))
    _vwap_kernel(t, h, lo, c, v, out)
    return out


class VWAP(Indicator):
    _state = ("_day", "_pv", "_vol")

    def __init__(self) -> None:
        super().__init__()
        self.lookback = 0
        self._day = -1
        self._pv = 0.0
        self._vol = 0.0

    def _step(self, high: float, low: float, close: float, volume: float, open_time: int) -> float:
        d = int(open_time) // DAY_MS
        if d != self._day:
            self._day = d
            self._pv = 0.0
            self._vol = 0.0
        tp = (high + low + close) / 3.0
        self._pv += tp * volume
        self._vol += volume
        return self._pv / self._vol if self._vol > 0.0 else tp
