"""Momentum breakout with volume confirmation.

Levels come from :class:`detectors.levels.LevelBook` (swing points, see that
module for the exact level, touch and break rules). A bar that breaks a level
with at least ``min_touches`` (2) touches is a breakout when it is confirmed:

* **volume**: ``volume >= volume_mult`` (1.5) x the mean volume of the
  ``volume_window`` (20) bars before it (a zero mean never confirms);
* **momentum**: the close moved at least ``momentum_atr`` (0.5) ATR(``atr_period``
  14, Wilder, TA-Lib seeding) beyond the previous close in the break direction,
  and the bar closes in the outer ``1 - close_pos_min`` of its range
  (``close_pos >= close_pos_min`` 0.6 for an up-break, ``<= 0.4`` down).

``BREAKOUT_UP`` (bullish, a resistance broken) or ``BREAKOUT_DOWN`` (bearish, a
support broken); when several levels break on one bar the strongest is
reported. ``score = 40 * min(1, volume_ratio / (2 * volume_mult)) + 30 *
strength / 100 + 30 * min(1, momentum / (2 * momentum_atr))``. Features: the
level (price, type, touches, strength, first/last touch, base height),
``volume_ratio``, ``momentum_atr``, ``close_pos``, ``levels_broken``.

Warm-up: ``max(volume_window, atr_period) + 1`` bars. Gaps: bars, not minutes.
"""

from __future__ import annotations

from collections import deque

import msgspec

from detectors.base import SeriesMeta
from detectors.levels import KIND, TOUCHES, LevelDetectorBase, check_level_params, level_features
from detectors.records import Signal


class BreakoutParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    swing_window: int = 3
    tolerance: float = 0.003
    max_levels: int = 8
    retest_window: int = 20
    min_touches: int = 2
    volume_window: int = 20
    volume_mult: float = 1.5
    atr_period: int = 14
    momentum_atr: float = 0.5
    close_pos_min: float = 0.6


class Breakout(LevelDetectorBase):
    name = "breakout"
    version = "1.0.0"
    Params = BreakoutParams

    def _check_params(self) -> None:
        p = self.params
        check_level_params(self.name, p)
        if p.volume_window < 1 or p.atr_period < 1:
            raise ValueError(f"detector {self.name}: volume_window and atr_period must be >= 1")
        if p.volume_mult <= 0 or p.momentum_atr < 0 or not (0.5 <= p.close_pos_min <= 1):
            raise ValueError(f"detector {self.name}: need volume_mult > 0, momentum_atr >= 0, "
                             f"0.5 <= close_pos_min <= 1")

    @property
    def warmup(self) -> int:
        return max(self.params.volume_window, self.params.atr_period) + 1

    def _reset_extra(self) -> None:
        self._vols: deque[float] = deque(maxlen=self.params.volume_window)
        self._n = 0
        self._tr_sum = 0.0
        self._atr = float("nan")
        self._pc = float("nan")

    def _snapshot(self) -> tuple:
        return (self._book.snapshot(), tuple(self._vols), self._n, self._tr_sum, self._atr, self._pc)

    def _restore(self, snap: tuple) -> None:
        book, vols, self._n, self._tr_sum, self._atr, self._pc = snap
        self._book.restore(tuple(book))
        self._vols.clear()
        self._vols.extend(vols)

    def _on_bar(self, meta: SeriesMeta | None, t: int, o: float, h: float, lo: float, c: float,
                v: float) -> list[Signal]:
        p = self.params
        events = self._book.update(t, h, lo, c)
        n = self._n
        self._n = n + 1
        pc = self._pc
        prev_atr = self._atr
        vols = self._vols
        vol_mean = sum(vols) / len(vols) if len(vols) == p.volume_window else float("nan")
        vols.append(v)
        if n > 0:
            tr = max(h - lo, abs(h - pc), abs(lo - pc))
            if n <= p.atr_period:
                self._tr_sum += tr
                if n == p.atr_period:
                    self._atr = self._tr_sum / p.atr_period
            else:
                self._atr = (self._atr * (p.atr_period - 1) + tr) / p.atr_period
        self._pc = c
        if n < self.warmup - 1:
            return []
        broken = [lv for ev, lv in events if ev == "break" and lv[TOUCHES] >= p.min_touches]
        if not broken or not (vol_mean > 0) or not (prev_atr > 0):
            return []
        best = max(broken, key=lambda lv: lv[TOUCHES])
        up = best[KIND] == "resistance"
        side = 1.0 if up else -1.0
        vol_ratio = v / vol_mean
        momentum = side * (c - pc) / prev_atr
        rng = h - lo
        close_pos = (c - lo) / rng if rng > 0 else 0.5
        pos_ok = close_pos >= p.close_pos_min if up else close_pos <= 1.0 - p.close_pos_min
        if vol_ratio < p.volume_mult or momentum < p.momentum_atr or not pos_ok:
            return []
        f = level_features(best)
        score = (40.0 * min(1.0, vol_ratio / (2.0 * p.volume_mult)) + 30.0 * f["strength"] / 100.0
                 + 30.0 * min(1.0, momentum / (2.0 * p.momentum_atr) if p.momentum_atr > 0 else 1.0))
        f.update(volume_ratio=vol_ratio, momentum_atr=momentum, close_pos=close_pos,
                 levels_broken=len(broken))
        return [self.make_signal(meta, t, signal_type="BREAKOUT_UP" if up else "BREAKOUT_DOWN",
                                 direction="bullish" if up else "bearish", score=score, price=c,
                                 features=f)]
