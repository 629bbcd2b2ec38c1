"""MACD, TA-Lib ``MACD``: ``macd = EMA(fast) - EMA(slow)``, ``signal = EMA(macd,
signal)``, ``hist = macd - signal``.

TA-Lib convention kept exactly: the fast EMA is seeded with the SMA of the
``fast`` values that end where the slow EMA's seed ends (bars ``slow - fast`` ..
``slow - 1``), so both lines start together; the signal EMA is seeded with the
mean of the first ``signal`` MACD values. All three outputs start at index
``slow + signal - 2`` (33 for 12/26/9).
"""

from __future__ import annotations

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators.base import NAN, Indicator, check_period
from detectors.indicators.ema import EMA, _ema_kernel


def _check(name: str, fast: int, slow: int, signal: int) -> None:
    check_period(name, fast)
    check_period(name, slow, 2)
    check_period(name, signal)
    if fast >= slow:
        raise ValueError(f"indicator {name}: fast ({fast}) must be shorter than slow ({slow})")


def macd(close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(macd, signal, hist)``."""
    _check("macd", fast, slow, signal)
    (c,) = f64("macd", close=close)
    n = len(c)
    fast_e, slow_e, sig = empty(n), empty(n), empty(n)
    _ema_kernel(c, fast, slow - fast, fast_e)
    _ema_kernel(c, slow, 0, slow_e)
    line = fast_e - slow_e
    _ema_kernel(line, signal, slow - 1, sig)
    lookback = slow + signal - 2
    line[:lookback] = np.nan
    hist = line - sig
    return line, sig, hist


class MACD(Indicator):
    _children = ("_fast", "_slow", "_signal")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        super().__init__()
        _check("MACD", fast, slow, signal)
        self.fast, self.slow, self.signal = fast, slow, signal
        self.lookback = slow + signal - 2
        self._fast = EMA(fast, start=slow - fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal, start=slow - 1)
        self._value = (NAN, NAN, NAN)

    def _step(self, close: float) -> tuple[float, float, float]:
        f = self._child_step(self._fast, close)
        s = self._child_step(self._slow, close)
        line = f - s
        sig = self._child_step(self._signal, line)
        if self._n < self.lookback:
            return (NAN, NAN, NAN)
        return (line, sig, line - sig)
