"""Relative strength index, TA-Lib ``RSI`` with Wilder smoothing.

Seed: average gain and loss of the first ``period`` changes (sum / period);
then ``avg = (avg * (period - 1) + change) / period``;
``rsi = 100 * gain / (gain + loss)``. First value at index ``period``.

One deliberate difference from TA-Lib: when ``gain + loss`` is exactly 0 (a
perfectly flat window) TA-Lib returns 0, a false "oversold"; here the value is
50 (no information).
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, check_period


@kernel
def _rsi_kernel(x: np.ndarray, period: int, out: np.ndarray) -> None:
    gain = 0.0
    loss = 0.0
    prev = 0.0
    for i in range(len(x)):
        v = x[i]
        if i == 0:
            prev = v
            out[i] = math.nan
            continue
        d = v - prev
        prev = v
        if i <= period:
            if d < 0:
                loss -= d
            else:
                gain += d
            if i < period:
                out[i] = math.nan
                continue
            loss /= period
            gain /= period
        else:
            loss *= period - 1
            gain *= period - 1
            if d < 0:
                loss -= d
            else:
                gain += d
            loss /= period
            gain /= period
        s = gain + loss
        out[i] = 100.0 * (gain / s) if s != 0.0 else 50.0


def rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    check_period("rsi", period, 2)
    (a,) = f64("rsi", close=close)
    out = empty(len(a))
    _rsi_kernel(a, period, out)
    return out


class RSI(Indicator):
    _state = ("_gain", "_loss", "_prev")

    def __init__(self, period: int = 14) -> None:
        super().__init__()
        self.period = check_period("RSI", period, 2)
        self.lookback = period
        self._gain = 0.0
        self._loss = 0.0
        self._prev = 0.0

    def _step(self, x: float) -> float:
        i = self._n
        p = self.period
        if i == 0:
            self._prev = x
            return NAN
        d = x - self._prev
        self._prev = x
        gain = self._gain
        loss = self._loss
        if i <= p:
            if d < 0:
                loss -= d
            else:
                gain += d
            if i < p:
                self._gain = gain
                self._loss = loss
                return NAN
            loss /= p
            gain /= p
        else:
            loss *= p - 1
            gain *= p - 1
            if d < 0:
                loss -= d
            else:
                gain += d
            loss /= p
            gain /= p
        self._gain = gain
        self._loss = loss
        s = gain + loss
        return 100.0 * (gain / s) if s != 0.0 else 50.0
