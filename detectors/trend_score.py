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

from collections import deque

import msgspec

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.patterns.exact_state import ExactStateMixin
from detectors.records import Signal


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


def _clamp(x: float) -> float:
    return -1.0 if x < -1.0 else 1.0 if x > 1.0 else x


class TrendScore(ExactStateMixin, Detector):
    name = "trend_score"
    version = "1.0.0"
    Params = TrendScoreParams

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
        p = self.params
        return max(p.ema_slow, p.ema_fast, p.roc_period + 1, p.atr_period + 1)

    def _reset(self) -> None:
        self._n = 0
        self._ef = self._es = self._ef_sum = self._es_sum = 0.0
        self._tr_sum = 0.0
        self._atr = float("nan")
        self._ha_o = self._ha_c = float("nan")
        self._streak = 0
        self._closes: deque[float] = deque(maxlen=self.params.roc_period + 1)
        self._state = 0

    def _snapshot(self) -> tuple:
        return (self._n, self._ef, self._es, self._ef_sum, self._es_sum, self._tr_sum, self._atr,
                self._ha_o, self._ha_c, self._streak, tuple(self._closes), self._state)

    def _restore(self, snap: tuple) -> None:
        (self._n, self._ef, self._es, self._ef_sum, self._es_sum, self._tr_sum, self._atr,
         self._ha_o, self._ha_c, self._streak, closes, self._state) = snap
        self._closes.clear()
        self._closes.extend(closes)

    def _advance(self, bar: Bar) -> list[Signal]:
        return self._on_bar(self.meta, bar.open_time, bar.open, bar.high, bar.low, bar.close)

    def _on_bar(self, meta: SeriesMeta | None, t: int, o: float, h: float, lo: float,
                c: float) -> list[Signal]:
        p = self.params
        i = self._n
        self._n = i + 1
        closes = self._closes
        pc = closes[-1] if closes else c
        closes.append(c)
        # EMAs (SMA seed)
        if i < p.ema_fast:
            self._ef_sum += c
            if i == p.ema_fast - 1:
                self._ef = self._ef_sum / p.ema_fast
        else:
            self._ef = (c - self._ef) * (2.0 / (p.ema_fast + 1)) + self._ef
        if i < p.ema_slow:
            self._es_sum += c
            if i == p.ema_slow - 1:
                self._es = self._es_sum / p.ema_slow
        else:
            self._es = (c - self._es) * (2.0 / (p.ema_slow + 1)) + self._es
        # ATR (Wilder, TA-Lib seeding)
        if i > 0:
            tr = max(h - lo, abs(h - pc), abs(lo - pc))
            if i <= p.atr_period:
                self._tr_sum += tr
                if i == p.atr_period:
                    self._atr = self._tr_sum / p.atr_period
            else:
                self._atr = (self._atr * (p.atr_period - 1) + tr) / p.atr_period
        # Heikin Ashi
        ha_c = (o + h + lo + c) * 0.25
        ha_o = (o + c) * 0.5 if i == 0 else (self._ha_o + self._ha_c) * 0.5
        self._ha_o, self._ha_c = ha_o, ha_c
        colour = 1 if ha_c > ha_o else -1 if ha_c < ha_o else 0
        s = self._streak
        self._streak = 0 if colour == 0 else (s + colour if s * colour > 0 else colour)
        if i + 1 < self.warmup:
            return []
        strong = (colour > 0 and lo >= ha_o) or (colour < 0 and h <= ha_o)
        c_ema = 1.0 if self._ef > self._es else -1.0 if self._ef < self._es else 0.0
        c_price = 1.0 if c > self._ef else -1.0 if c < self._ef else 0.0
        c_ha = _clamp(self._streak / p.ha_full + (0.2 * colour if strong else 0.0))
        atr = self._atr
        c_mom = _clamp((c - closes[0]) / (p.roc_atr_full * atr)) if atr > 0 else 0.0
        score = 100.0 * (p.w_ema * c_ema + p.w_price * c_price + p.w_ha * c_ha
                         + p.w_momentum * c_mom) / self._wsum
        prev = self._state
        if score >= p.threshold:
            state = 1
        elif score <= -p.threshold:
            state = -1
        elif prev != 0 and score * prev > p.threshold - p.hysteresis:
            state = prev
        else:
            state = 0
        if state == prev:
            return []
        self._state = state
        kind, direction = (("TREND_UP", "bullish") if state > 0 else ("TREND_DOWN", "bearish")
                           if state < 0 else ("TREND_NEUTRAL", "neutral"))
        features = {
            "trend_score": score, "ema": c_ema, "price": c_price, "ha": c_ha, "momentum": c_mom,
            "ha_direction": colour, "ha_streak": self._streak, "ha_strong": strong,
            "ha_open": ha_o, "ha_close": ha_c, "ha_high": max(h, ha_o, ha_c),
            "ha_low": min(lo, ha_o, ha_c), "previous_state": prev,
        }
        return [self.make_signal(meta, t, signal_type=kind, direction=direction, score=abs(score),
                                 price=c, features=features)]

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        run = type(self)(**msgspec.to_builtins(self.params))
        out: list[Signal] = []
        on_bar = run._on_bar
        for t, o, h, lo, c in zip(bars.open_time.tolist(), bars.open.tolist(), bars.high.tolist(),
                                  bars.low.tolist(), bars.close.tolist(), strict=True):
            sigs = on_bar(meta, t, o, h, lo, c)
            if sigs:
                out.extend(sigs)
        return out
