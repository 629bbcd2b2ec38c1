"""Average directional index, TA-Lib ``ADX`` / ``PLUS_DI`` / ``MINUS_DI`` (Wilder).

Directional movement from the second bar: ``up = high - prev_high``,
``down = prev_low - low``; ``-DM = down`` when ``down > 0 and up < down``, else
``+DM = up`` when ``up > 0 and up > down``. +DM, -DM and true range are summed
over the first ``period - 1`` changes, then Wilder-smoothed
(``s = s - s / period + x``); ``DI = 100 * DM / TR`` from index ``period``;
``DX = 100 * |-DI - +DI| / (-DI + +DI)``; ADX is the mean of the first ``period``
DX values (index ``2 * period - 1``), then ``adx = (adx * (period - 1) + dx) /
period``. Returns ``(adx, plus_di, minus_di)``.

Degenerate bars: a smoothed true range of exactly 0 gives DI = 0 and no DX; a
DI sum of exactly 0 gives no DX (the ADX keeps its previous value).
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._arrays import empty, f64
from detectors.indicators._jit import kernel
from detectors.indicators.atr import _true_range_py, true_range
from detectors.indicators.base import NAN, Indicator, check_period


@kernel
def _adx_kernel(h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int,
                adx_out: np.ndarray, pdi_out: np.ndarray, mdi_out: np.ndarray) -> None:
    pdm = 0.0
    mdm = 0.0
    trs = 0.0
    sumdx = 0.0
    adx = 0.0
    prev_h = 0.0
    prev_l = 0.0
    prev_c = 0.0
    for i in range(len(c)):
        adx_out[i] = math.nan
        pdi_out[i] = math.nan
        mdi_out[i] = math.nan
        hi = h[i]
        low = lo[i]
        if i == 0:
            prev_h = hi
            prev_l = low
            prev_c = c[i]
            continue
        diff_p = hi - prev_h
        diff_m = prev_l - low
        prev_h = hi
        prev_l = low
        tr = true_range(hi, low, prev_c)
        prev_c = c[i]
        if i < period:
            if diff_m > 0 and diff_p < diff_m:
                mdm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                pdm += diff_p
            trs += tr
            continue
        mdm -= mdm / period
        pdm -= pdm / period
        if diff_m > 0 and diff_p < diff_m:
            mdm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            pdm += diff_p
        trs = trs - (trs / period) + tr
        valid = False
        dx = 0.0
        if trs != 0.0:
            mdi = 100.0 * (mdm / trs)
            pdi = 100.0 * (pdm / trs)
            s = mdi + pdi
            if s != 0.0:
                dx = 100.0 * (abs(mdi - pdi) / s)
                valid = True
        else:
            mdi = 0.0
            pdi = 0.0
        pdi_out[i] = pdi
        mdi_out[i] = mdi
        if i < 2 * period:
            if valid:
                sumdx += dx
            if i == 2 * period - 1:
                adx = sumdx / period
                adx_out[i] = adx
        else:
            if valid:
                adx = ((adx * (period - 1)) + dx) / period
            adx_out[i] = adx


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(adx, plus_di, minus_di)``."""
    check_period("adx", period, 2)
    h, lo, c = f64("adx", high=high, low=low, close=close)
    n = len(c)
    a, p, m = empty(n), empty(n), empty(n)
    _adx_kernel(h, lo, c, period, a, p, m)
    return a, p, m


class ADX(Indicator):
    _state = ("_pdm", "_mdm", "_trs", "_sumdx", "_adx", "_prev_h", "_prev_l", "_prev_c")

    def __init__(self, period: int = 14) -> None:
        super().__init__()
        self.period = check_period("ADX", period, 2)
        self.lookback = 2 * period - 1
        self._pdm = self._mdm = self._trs = self._sumdx = self._adx = 0.0
        self._prev_h = self._prev_l = self._prev_c = 0.0
        self._value = (NAN, NAN, NAN)

    def _step(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        i = self._n
        p = self.period
        if i == 0:
            self._prev_h, self._prev_l, self._prev_c = high, low, close
            return (NAN, NAN, NAN)
        diff_p = high - self._prev_h
        diff_m = self._prev_l - low
        self._prev_h = high
        self._prev_l = low
        tr = _true_range_py(high, low, self._prev_c)
        self._prev_c = close
        mdm, pdm = self._mdm, self._pdm
        if i < p:
            if diff_m > 0 and diff_p < diff_m:
                mdm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                pdm += diff_p
            self._mdm, self._pdm = mdm, pdm
            self._trs += tr
            return (NAN, NAN, NAN)
        mdm -= mdm / p
        pdm -= pdm / p
        if diff_m > 0 and diff_p < diff_m:
            mdm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            pdm += diff_p
        self._mdm, self._pdm = mdm, pdm
        trs = self._trs = self._trs - (self._trs / p) + tr
        valid = False
        dx = 0.0
        if trs != 0.0:
            mdi = 100.0 * (mdm / trs)
            pdi = 100.0 * (pdm / trs)
            s = mdi + pdi
            if s != 0.0:
                dx = 100.0 * (abs(mdi - pdi) / s)
                valid = True
        else:
            mdi = pdi = 0.0
        if i < 2 * p:
            if valid:
                self._sumdx += dx
            if i == 2 * p - 1:
                self._adx = self._sumdx / p
                return (self._adx, pdi, mdi)
            return (NAN, pdi, mdi)
        if valid:
            self._adx = ((self._adx * (p - 1)) + dx) / p
        return (self._adx, pdi, mdi)
