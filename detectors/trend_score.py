"""Trend score from -100 to +100 with a Heikin Ashi trend.

Per bar:

* **Heikin Ashi**: ``ha_close = (O + H + L + C) / 4``, ``ha_open = (previous
  ha_open + previous ha_close) / 2`` (first bar: ``(O + C) / 2``). Colour +1 when
  ``ha_close > ha_open``, -1 when below, 0 otherwise; ``ha_streak`` is the signed
  count of consecutive bars of the current colour (0 on a neutral bar); a bar is
  *strong* when it has no wick against its colour (bullish: ``L >= ha_open``;
  bearish: ``H <= ha_open``).
* **Components** in [-1, 1]: ``ema`` = sign(EMA ``ema_fast`` - EMA
  ``ema_slow``) (20/50, SMA-seeded, TA-Lib); ``price`` = sign(close - EMA fast);
  ``ha`` = clamp(ha_streak / ``ha_full`` (5)), plus/minus 0.2 more (clamped)
  for a strong bar; ``momentum`` = clamp((close - close ``roc_period`` (10) bars
  ago) / (``roc_atr_full`` (3.0) x ATR 14)), Wilder ATR.
* ``trend_score = 100 * sum(w_c * component_c) / sum(w_c)`` with weights
  ``w_ema``, ``w_price``, ``w_ha``, ``w_momentum`` (0.25 each).

Signals fire when the trend state changes: ``TREND_UP`` (bullish) when the
score rises to ``threshold`` (60) or more, ``TREND_DOWN`` (bearish) at
``-threshold`` or less, ``TREND_NEUTRAL`` when a trend state ends (score back
inside +/-``threshold`` - ``hysteresis`` (20)). ``score`` is ``|trend_score|``.
Features: trend_score, each component, ha_direction, ha_streak, ha_strong, the
HA bar, the previous state.

Warm-up: ``max(ema_slow, roc_period + 1, atr_period + 1)`` bars. Gaps: bars, not
minutes.
"""

from __future__ import annotations

import msgspec
import numpy as np

from detectors.base import BarArrays, SeriesMeta
from detectors.patterns import trend_core
from detectors.patterns.compiled_state import CompiledStateDetector
from detectors.records import Signal

#: signal type and direction of each trend state
_KINDS = {1: ("TREND_UP", "bullish"), -1: ("TREND_DOWN", "bearish"), 0: ("TREND_NEUTRAL", "neutral")}
#: the same, indexed by the state itself (-1 is the last item), for whole columns of states
_TYPE_OF = np.array([_KINDS[0][0], _KINDS[1][0], _KINDS[-1][0]], dtype=object)
_DIRECTION_OF = np.array([_KINDS[0][1], _KINDS[1][1], _KINDS[-1][1]], dtype=object)


class TrendScoreParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ema_fast: int = 20
    ema_slow: int = 50
    atr_period: int = 14
    roc_period: int = 10
    roc_atr_full: float = 3.0
    ha_full: int = 5
    w_ema: float = 0.25
    w_price: float = 0.25
    w_ha: float = 0.25
    w_momentum: float = 0.25
    threshold: float = 60.0
    hysteresis: float = 20.0


class TrendScore(CompiledStateDetector):
    name = "trend_score"
    version = "1.0.0"
    Params = TrendScoreParams
    params: TrendScoreParams
    core = trend_core

    def _check_params(self) -> None:
        p = self.params
        where = f"detector {self.name}"
        for f in ("ema_fast", "ema_slow", "atr_period", "roc_period", "ha_full"):
            if getattr(p, f) < 1:
                raise ValueError(f"{where}: {f} must be >= 1, got {getattr(p, f)}")
        ws = (p.w_ema, p.w_price, p.w_ha, p.w_momentum)
        if min(ws) < 0 or sum(ws) <= 0:
            raise ValueError(f"{where}: weights must be >= 0 with a positive sum, got {ws}")
        if not (0 < p.threshold <= 100) or not (0 <= p.hysteresis < p.threshold):
            raise ValueError(f"{where}: need 0 < threshold <= 100 and 0 <= hysteresis < threshold")
        if p.roc_atr_full <= 0:
            raise ValueError(f"{where}: roc_atr_full must be > 0")
        self._wsum = sum(ws)

    @property
    def warmup(self) -> int:
        return trend_core.warmup(self.params)

    def _core_params(self) -> np.ndarray:
        return trend_core.params_vector(self.params, self._wsum)

    # ---- one signal, built from the same values on both paths ---------------------------
    def _signal(self, meta: SeriesMeta | None, t: int, h: float, lo: float, c: float, state: float,
                prev: float, colour: float, streak: float, strong: float, score: float, c_ema: float,
                c_price: float, c_ha: float, c_mom: float, ha_o: float, ha_c: float) -> Signal:
        kind, direction = _KINDS[int(state)]
        features = {
            "trend_score": score, "ema": c_ema, "price": c_price, "ha": c_ha, "momentum": c_mom,
            "ha_direction": int(colour), "ha_streak": int(streak), "ha_strong": strong != 0.0,
            "ha_open": ha_o, "ha_close": ha_c, "ha_high": max(h, ha_o, ha_c),
            "ha_low": min(lo, ha_o, ha_c), "previous_state": int(prev),
        }
        return self.make_signal(meta, t, signal_type=kind, direction=direction, score=abs(score),
                                price=c, features=features)

    def _batch_signals(self, bars: BarArrays, meta: SeriesMeta, at: np.ndarray, vals: np.ndarray
                       ) -> list[Signal]:
        """:meth:`_signal` for every hit, column-wise: the conversions and the HA
        extremes on whole columns (the same float operations), then one row of
        floats, one dict and one record per hit."""
        if not len(at):
            return []
        make = self.signal_maker(meta)
        states = vals[:, 0].astype(np.int64)
        ha_o, ha_c = vals[:, 10], vals[:, 11]
        rows = np.column_stack((
            vals[:, 5:], np.abs(vals[:, 5]), bars.close[at], np.maximum(np.maximum(bars.high[at], ha_o), ha_c),
            np.minimum(np.minimum(bars.low[at], ha_o), ha_c))).tolist()
        return [
            make(t, kind, direction, abs_score, c, {
                "trend_score": sc, "ema": e, "price": pr, "ha": ha, "momentum": mo, "ha_direction": col,
                "ha_streak": st, "ha_strong": sg, "ha_open": o, "ha_close": hc, "ha_high": hh, "ha_low": ll,
                "previous_state": pv})
            for t, kind, direction, pv, col, st, sg, (sc, e, pr, ha, mo, o, hc, abs_score, c, hh, ll) in zip(
                bars.open_time[at].tolist(), _TYPE_OF[states].tolist(), _DIRECTION_OF[states].tolist(),
                *vals[:, 1:4].T.astype(np.int64).tolist(), (vals[:, 4] != 0.0).tolist(), rows, strict=True)
        ]
