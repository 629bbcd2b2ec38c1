"""Technical indicators, each in two forms with identical results.

* a vectorized function over numpy arrays returning arrays (NaN during warm-up):
  ``sma``, ``ema``, ``wma``, ``rsi``, ``atr``, ``natr``, ``macd``, ``stochrsi``,
  ``obv``, ``bbands``, ``bb_width``, ``adx``, ``supertrend``, ``vwap``,
  ``heikin_ashi``, ``rolling_zscore``, ``rolling_corr``;
* an incremental class (O(1) work per bar, bounded memory, ``update`` appends,
  ``update_last`` replaces a still-open last bar): ``SMA``, ``EMA``, ``WMA``,
  ``RSI``, ``ATR``, ``NATR``, ``MACD``, ``StochRSI``, ``OBV``, ``BBands``,
  ``BBWidth``, ``ADX``, ``Supertrend``, ``VWAP``, ``HeikinAshi``,
  ``RollingZScore``, ``RollingCorr``.

TA-Lib conventions (Wilder smoothing for RSI/ATR/ADX, EMA seeded with the SMA of
the first period, TA-Lib's warm-up lengths and running-sum arithmetic); see each
module's docstring for the exact definition and the few documented deviations.
``INDICATORS`` describes every indicator for the contract tests and benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detectors.indicators._jit import JIT_ENABLED
from detectors.indicators.adx import ADX, adx
from detectors.indicators.atr import ATR, atr
from detectors.indicators.base import Indicator, Ring
from detectors.indicators.bbands import BBands, BBWidth, bb_width, bbands
from detectors.indicators.correlation import RollingCorr, rolling_corr
from detectors.indicators.ema import EMA, ema
from detectors.indicators.heikin_ashi import HeikinAshi, heikin_ashi
from detectors.indicators.macd import MACD, macd
from detectors.indicators.natr import NATR, natr
from detectors.indicators.obv import OBV, obv
from detectors.indicators.rsi import RSI, rsi
from detectors.indicators.sma import SMA, sma
from detectors.indicators.stochrsi import StochRSI, stochrsi
from detectors.indicators.supertrend import Supertrend, supertrend
from detectors.indicators.vwap import VWAP, vwap
from detectors.indicators.wma import WMA, wma
from detectors.indicators.zscore import RollingZScore, rolling_zscore


@dataclass(frozen=True)
class IndicatorSpec:
    """How to call one indicator in both forms. ``inputs`` name bar columns
    (``open``, ``high``, ``low``, ``close``, ``volume``, ``open_time``; ``other``
    is a second close series); ``outputs`` name the returned arrays."""

    name: str
    function: Callable[..., Any]
    cls: type[Indicator]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


INDICATORS: dict[str, IndicatorSpec] = {
    s.name: s
    for s in (
        IndicatorSpec("sma", sma, SMA, ("close",), ("sma",), {"period": 20}),
        IndicatorSpec("ema", ema, EMA, ("close",), ("ema",), {"period": 20}),
        IndicatorSpec("wma", wma, WMA, ("close",), ("wma",), {"period": 20}),
        IndicatorSpec("rsi", rsi, RSI, ("close",), ("rsi",), {"period": 14}),
        IndicatorSpec("atr", atr, ATR, ("high", "low", "close"), ("atr",), {"period": 14}),
        IndicatorSpec("natr", natr, NATR, ("high", "low", "close"), ("natr",), {"period": 14}),
        IndicatorSpec("macd", macd, MACD, ("close",), ("macd", "signal", "hist"),
                      {"fast": 12, "slow": 26, "signal": 9}),
        IndicatorSpec("stochrsi", stochrsi, StochRSI, ("close",), ("k", "d"),
                      {"period": 14, "fastk_period": 14, "fastd_period": 3}),
        IndicatorSpec("obv", obv, OBV, ("close", "volume"), ("obv",)),
        IndicatorSpec("bbands", bbands, BBands, ("close",), ("upper", "middle", "lower"),
                      {"period": 20, "nbdev_up": 2.0, "nbdev_dn": 2.0}),
        IndicatorSpec("bb_width", bb_width, BBWidth, ("close",), ("bb_width",),
                      {"period": 20, "nbdev": 2.0}),
        IndicatorSpec("adx", adx, ADX, ("high", "low", "close"), ("adx", "plus_di", "minus_di"),
                      {"period": 14}),
        IndicatorSpec("supertrend", supertrend, Supertrend, ("high", "low", "close"),
                      ("line", "direction"), {"period": 10, "multiplier": 3.0}),
        IndicatorSpec("vwap", vwap, VWAP, ("high", "low", "close", "volume", "open_time"), ("vwap",)),
        IndicatorSpec("heikin_ashi", heikin_ashi, HeikinAshi, ("open", "high", "low", "close"),
                      ("open", "high", "low", "close")),
        IndicatorSpec("rolling_zscore", rolling_zscore, RollingZScore, ("volume",), ("zscore",),
                      {"period": 20}),
        IndicatorSpec("rolling_corr", rolling_corr, RollingCorr, ("close", "other"), ("corr",),
                      {"period": 30}),
    )
}

__all__ = [
    "ADX", "ATR", "BBWidth", "BBands", "EMA", "HeikinAshi", "INDICATORS", "Indicator",
    "IndicatorSpec", "JIT_ENABLED", "MACD", "NATR", "OBV", "RSI", "Ring", "RollingCorr",
    "RollingZScore", "SMA", "StochRSI", "Supertrend", "VWAP", "WMA", "adx", "atr", "bb_width",
    "bbands", "ema", "heikin_ashi", "macd", "natr", "obv", "rolling_corr", "rolling_zscore", "rsi",
    "sma", "stochrsi", "supertrend", "vwap",
]
