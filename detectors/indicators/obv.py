"""On-balance volume, TA-Lib ``OBV``: starts at the first bar's volume, then adds
the volume on an up close and subtracts it on a down close (unchanged close:
unchanged OBV). Defined from the first bar."""

from __future__ import annotations

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import Indicator


@kernel
def _obv_kernel(c: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    obv = 0.0
    prev = 0.0
    for i in range(len(c)):
        x = c[i]
        if i == 0:
            obv = v[i]
        elif x > prev:
            obv += v[i]
        elif x < prev:
            obv -= v[i]
        prev = x
        out[i] = obv


def obv(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    c, v = f64("obv", close=close, volume=volume)
    out = empty(len(c))
    _obv_kernel(c, v, out)
    return out


class OBV(Indicator):
    _state = ("_obv", "_prev")

    def __init__(self) -> None:
        super().__init__()
        self.lookback = 0
        self._obv = 0.0
        self._prev = 0.0

    def _step(self, close: float, volume: float) -> float:
        if self._n == 0:
            self._obv = volume
        elif close > self._prev:
            self._obv += volume
        elif close < self._prev:
            self._obv -= volume
        self._prev = close
        return self._obv
