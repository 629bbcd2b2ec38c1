"""Normalized ATR, TA-Lib ``NATR``: ``(atr / close) * 100``. First value at index
``period``."""

from __future__ import annotations

import numpy as np

from detectors.indicators._arrays import f64
from detectors.indicators.atr import ATR, atr
from detectors.indicators.base import Indicator, check_period


def natr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    check_period("natr", period)
    h, lo, c = f64("natr", high=high, low=low, close=close)
    return (atr(h, lo, c, period) / c) * 100.0


class NATR(Indicator):
    _children = ("_atr",)

    def __init__(self, period: int = 14) -> None:
        super().__init__()
        self.period = check_period("NATR", period)
        self.lookback = period
        self._atr = ATR(period)

    def _step(self, high: float, low: float, close: float) -> float:
        a = self._child_step(self._atr, high, low, close)
        return (a / close) * 100.0
