"""Rolling Pearson correlation, TA-Lib ``CORREL``: running sums of x, y, x^2, y^2
and xy over the last ``period`` pairs (trailing pair removed before the new one
is added, as TA-Lib does);
``r = (sxy - sx*sy/p) / sqrt((sx2 - sx^2/p) * (sy2 - sy^2/p))``. First value at
index ``period - 1``.

A window where either series is flat (variance at most 1e-12 of its mean
square, the rounding floor of the running sums) has no defined correlation and
gives 0, so rounding noise cannot produce values outside [-1, 1]. Running sums
of raw prices are ill-conditioned (TA-Lib's too): correlate returns, not price
levels (TA-Lib agrees to 1e-9 on returns, ~1e-8 on BTC price levels).
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.base import NAN, Indicator, Ring, check_period


@kernel
def _correl_value(sx: float, sy: float, sx2: float, sy2: float, sxy: float, p: int) -> float:
    vx = sx2 - ((sx * sx) / p)
    vy = sy2 - ((sy * sy) / p)
    if not (vx > 1e-12 * sx2 and vy > 1e-12 * sy2):
        return 0.0
    return (sxy - ((sx * sy) / p)) / math.sqrt(vx * vy)


def _correl_value_py(sx: float, sy: float, sx2: float, sy2: float, sxy: float, p: int) -> float:
    vx = sx2 - ((sx * sx) / p)
    vy = sy2 - ((sy * sy) / p)
    if not (vx > 1e-12 * sx2 and vy > 1e-12 * sy2):
        return 0.0
    return (sxy - ((sx * sy) / p)) / math.sqrt(vx * vy)


@kernel
def _correl_kernel(x: np.ndarray, y: np.ndarray, period: int, out: np.ndarray) -> None:
    sx = 0.0
    sy = 0.0
    sx2 = 0.0
    sy2 = 0.0
    sxy = 0.0
    for i in range(len(x)):
        if i >= period:
            tx = x[i - period]
            ty = y[i - period]
            sx -= tx
            sx2 -= tx * tx
            sxy -= tx * ty
            sy -= ty
            sy2 -= ty * ty
        a = x[i]
        b = y[i]
        sx += a
        sx2 += a * a
        sxy += a * b
        sy += b
        sy2 += b * b
        if i < period - 1:
            out[i] = math.nan
        else:
            out[i] = _correl_value(sx, sy, sx2, sy2, sxy, period)


def rolling_corr(x: np.ndarray, y: np.ndarray, period: int = 30) -> np.ndarray:
    check_period("rolling_corr", period, 2)
    a, b = f64("rolling_corr", x=x, y=y)
    out = empty(len(a))
    _correl_kernel(a, b, period, out)
    return out


class RollingCorr(Indicator):
    _state = ("_sx", "_sy", "_sx2", "_sy2", "_sxy")
    _rings = ("_xs", "_ys")

    def __init__(self, period: int = 30) -> None:
        super().__init__()
        self.period = check_period("RollingCorr", period, 2)
        self.lookback = period - 1
        self._xs = Ring(period)
        self._ys = Ring(period)
        self._sx = self._sy = self._sx2 = self._sy2 = self._sxy = 0.0

    def _step(self, x: float, y: float) -> float:
        if self._n >= self.period:
            tx = self._xs.oldest()
            ty = self._ys.oldest()
            self._sx -= tx
            self._sx2 -= tx * tx
            self._sxy -= tx * ty
            self._sy -= ty
            self._sy2 -= ty * ty
        self._xs.push(x)
        self._ys.push(y)
        self._sx += x
        self._sx2 += x * x
        self._sxy += x * y
        self._sy += y
        self._sy2 += y * y
        if self._n < self.period - 1:
            return NAN
        return _correl_value_py(self._sx, self._sy, self._sx2, self._sy2, self._sxy, self.period)
