"""Retest of a broken level.

Levels, breaks and retests come from :class:`detectors.levels.LevelBook` (see
its docstring): within ``retest_window`` (20) bars after a level with at least
``min_touches`` (2) touches is broken, price comes back to it and holds:

* ``RETEST_SUPPORT`` (bullish): a broken resistance, the bar's low within
  ``tolerance`` of the level and the close above it (old resistance now support);
* ``RETEST_RESISTANCE`` (bearish): a broken support, the bar's high within
  ``tolerance`` of it and the close below it.

A close beyond the level on the wrong side first fails the breakout and the
level is dropped (no signal). ``score = 50 + 30 * strength / 100 + 20 *
hold`` where ``hold = min(1, |close - level| / (tolerance * level * 3))`` (a
decisive close away from the level scores higher; 1 when tolerance is 0).
Features: the level's fields, ``bars_since_break``, ``broken_at``, ``hold``.

Warm-up: ``2 * swing_window + 2`` bars (a level, then a break). Gaps: bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.levels_kernel import MODE_RETEST
from detectors.features.rows import dict_builder
from detectors.levels import (
    BROKEN_AT,
    BROKEN_I,
    KIND,
    LEVEL_KEYS,
    PRICE,
    TOUCHES,
    LevelDetectorBase,
    LevelParams,
    level_columns,
    level_features,
)
from detectors.records import Signal

_FEATURE_KEYS = (*LEVEL_KEYS, "bars_since_break", "broken_at", "hold")
_FEATURES = dict_builder(_FEATURE_KEYS)


class Retest(LevelDetectorBase):
    name = "retest"
    version = "1.0.0"
    Params = LevelParams
    params: LevelParams
    keeps_own_state = False  # in a set: everything it reads is the feed's
    _mode = MODE_RETEST

    @property
    def warmup(self) -> int:
        return 2 * self.params.swing_window + 2

    def _signal(self, meta: SeriesMeta | None, t: int, i: int, c: float, best: list[Any]) -> Signal:
        p = self.params
        level = best[PRICE]
        scale = p.tolerance * level * 3.0
        hold = min(1.0, abs(c - level) / scale) if scale > 0 else 1.0
        f = level_features(best)
        f.update(bars_since_break=i - best[BROKEN_I], broken_at=best[BROKEN_AT], hold=hold)
        was_resistance = best[KIND] == "resistance"
        return self.make_signal(
            meta, t, signal_type="RETEST_SUPPORT" if was_resistance else "RETEST_RESISTANCE",
            direction="bullish" if was_resistance else "bearish",
            score=50.0 + 30.0 * f["strength"] / 100.0 + 20.0 * hold, price=c, features=f)

    def _advance(self, bar: Bar) -> list[Signal]:
        book = self._book
        events = self._feed.events if not self._own else book.update(  # type: ignore[union-attr]
            bar.open_time, bar.high, bar.low, bar.close)
        if not events:
            return []
        need = self.params.min_touches
        hits = [lv for ev, lv in events if ev == "retest" and lv[TOUCHES] >= need]
        if not hits:
            return []
        return [self._signal(self.meta, bar.open_time, book.i, bar.close, max(hits, key=lambda lv: lv[TOUCHES]))]

    def _on_rows(self, meta: SeriesMeta, bars: BarArrays, idx: np.ndarray, rows: np.ndarray) -> list[Signal]:
        p = self.params
        c = bars.close[idx]
        level = rows[:, 2]
        scale = p.tolerance * level * 3.0
        with np.errstate(invalid="ignore", divide="ignore"):
            hold = np.abs(c - level) / scale
        hold = np.where(scale > 0, np.where(hold < 1.0, hold, 1.0), 1.0)  # min(1.0, .)
        strength, cols = level_columns(rows)
        cols += [(idx - rows[:, 9].astype(np.int64)).tolist(), rows[:, 8].astype(np.int64).tolist(), hold.tolist()]
        score = 50.0 + 30.0 * strength / 100.0 + 20.0 * hold
        was_resistance = rows[:, 1] == 0
        features = map(_FEATURES, *cols)
        return list(map(self.signal_maker(meta), bars.open_time[idx].tolist(),
                        np.where(was_resistance, "RETEST_SUPPORT", "RETEST_RESISTANCE").tolist(),
                        np.where(was_resistance, "bullish", "bearish").tolist(), score.tolist(), c.tolist(),
                        features))
