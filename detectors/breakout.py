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

import math
from collections import deque
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.levels_kernel import MODE_BREAKOUT
from detectors.features.rows import dict_builder
from detectors.features.scanner import memoized, trailing_volume_mean
from detectors.features.window import seq_sum
from detectors.indicators.atr import ATR, atr
from detectors.levels import (
    KIND,
    LEVEL_KEYS,
    TOUCHES,
    LevelDetectorBase,
    check_level_params,
    level_columns,
    level_features,
)
from detectors.records import Signal

_FEATURE_KEYS = (*LEVEL_KEYS, "volume_ratio", "momentum_atr", "close_pos", "levels_broken")
_FEATURES = dict_builder(_FEATURE_KEYS)


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
    params: BreakoutParams
    _mode = MODE_BREAKOUT

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
        #: the ``volume_window`` volumes before the current bar, and the current one
        self._vols: deque[float] = deque(maxlen=self.params.volume_window + 1)
        self._atr = ATR(self.params.atr_period)  # stepped without its undo snapshot: ours covers it
        self._pc = math.nan
        self._first_signal_bar = self.warmup - 1

    def _snapshot(self) -> tuple:
        a = self._atr
        return (self._book.snapshot() if self._own else None, tuple(self._vols),
                (a._n, a._value, a._total, a._atr, a._prev_close), self._pc)

    def _restore(self, snap: tuple) -> None:
        book, vols, atr_state, self._pc = snap
        if self._own:  # a shared book is restored by its feed
            self._book.restore(tuple(book))
        self._vols.clear()
        self._vols.extend(vols)
        a = self._atr
        a._n, a._value, a._total, a._atr, a._prev_close = atr_state

    def _advance_own(self, bar: Bar) -> None:
        """What :meth:`_advance` does to the state besides the book (shared in a set)."""
        a = self._atr
        a._value = a._step(bar.high, bar.low, bar.close)
        a._n += 1
        self._pc = bar.close
        self._vols.append(bar.volume)

    def _confirm(self, meta: SeriesMeta | None, t: int, best: list[Any], n_broken: int, h: float, lo: float,
                 c: float, v: float, pc: float, vol_mean: float, prev_atr: float) -> Signal | None:
        """The volume and momentum confirmation of a bar that broke ``best`` (the
        strongest of ``n_broken`` qualifying levels); the same code for both paths."""
        p = self.params
        if not (vol_mean > 0) or not (prev_atr > 0):
            return None
        up = best[KIND] == "resistance"
        side = 1.0 if up else -1.0
        vol_ratio = v / vol_mean
        momentum = side * (c - pc) / prev_atr
        rng = h - lo
        close_pos = (c - lo) / rng if rng > 0 else 0.5
        pos_ok = close_pos >= p.close_pos_min if up else close_pos <= 1.0 - p.close_pos_min
        if vol_ratio < p.volume_mult or momentum < p.momentum_atr or not pos_ok:
            return None
        f = level_features(best)
        score = (40.0 * min(1.0, vol_ratio / (2.0 * p.volume_mult)) + 30.0 * f["strength"] / 100.0
                 + 30.0 * min(1.0, momentum / (2.0 * p.momentum_atr) if p.momentum_atr > 0 else 1.0))
        f.update(volume_ratio=vol_ratio, momentum_atr=momentum, close_pos=close_pos, levels_broken=n_broken)
        return self.make_signal(meta, t, signal_type="BREAKOUT_UP" if up else "BREAKOUT_DOWN",
                                direction="bullish" if up else "bearish", score=score, price=c, features=f)

    def _advance(self, bar: Bar) -> list[Signal]:
        h = bar.high
        lo = bar.low
        c = bar.close
        events = self._book.update(bar.open_time, h, lo, c) if self._own else self._feed.events  # type: ignore[union-attr]
        # self._atr._step(h, lo, c) inlined (the same operations; see _advance_own)
        a = self._atr
        n = a._n  # this bar's index
        prev_atr = a._value
        prev = a._prev_close
        a._prev_close = c
        if n == 0:
            value = math.nan
        else:
            tr = h - lo
            x = abs(prev - h)
            if x > tr:
                tr = x
            x = abs(prev - lo)
            if x > tr:
                tr = x
            period = a.period
            if n < period:
                a._total += tr
                value = math.nan
            elif n == period:
                a._total += tr
                value = a._atr = a._total / period
            else:
                x = a._atr * (period - 1)
                x += tr
                x /= period
                value = a._atr = x
        a._value = value
        a._n = n + 1
        pc = self._pc
        self._pc = c
        vols = self._vols
        vols.append(bar.volume)
        if not events or n < self._first_signal_bar:
            return []
        need = self.params.min_touches
        broken = [lv for ev, lv in events if ev == "break" and lv[TOUCHES] >= need]
        if not broken:
            return []
        W = self.params.volume_window
        vol_mean = seq_sum(list(vols)[:W]) / W if len(vols) > W else math.nan
        best = max(broken, key=lambda lv: lv[TOUCHES])
        sig = self._confirm(self.meta, bar.open_time, best, len(broken), h, lo, c, bar.volume, pc, vol_mean,
                            prev_atr)
        return [] if sig is None else [sig]

    def _on_rows(self, meta: SeriesMeta, bars: BarArrays, idx: np.ndarray, rows: np.ndarray) -> list[Signal]:
        p = self.params
        late = idx >= self._first_signal_bar
        idx, rows = idx[late], rows[late]
        # _confirm of every row at once (the same operations, in the same order)
        vol_mean = trailing_volume_mean(bars.volume, p.volume_window, bars.shared)[idx]  # seq_sum's order
        prev_atr = memoized(bars.shared, ("atr", p.atr_period),
                         lambda: atr(bars.high, bars.low, bars.close, p.atr_period))[idx - 1]
        h, lo, c, v, pc = bars.high[idx], bars.low[idx], bars.close[idx], bars.volume[idx], bars.close[idx - 1]
        up = rows[:, 1] == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            vol_ratio = v / vol_mean
            momentum = np.where(up, 1.0, -1.0) * (c - pc) / prev_atr
            rng = h - lo
            close_pos = np.where(rng > 0, (c - lo) / rng, 0.5)
        pos_ok = np.where(up, close_pos >= p.close_pos_min, close_pos <= 1.0 - p.close_pos_min)
        ok = (vol_mean > 0) & (prev_atr > 0) & ~(vol_ratio < p.volume_mult) & ~(momentum < p.momentum_atr) & pos_ok
        keep = np.flatnonzero(ok)
        idx, rows, vol_ratio, momentum, close_pos, up, c = (
            a[keep] for a in (idx, rows, vol_ratio, momentum, close_pos, up, c))
        strength, cols = level_columns(rows)
        x = vol_ratio / (2.0 * p.volume_mult)
        if p.momentum_atr > 0:
            y = momentum / (2.0 * p.momentum_atr)
            y = np.where(y < 1.0, y, 1.0)
        else:
            y = 1.0
        score = 40.0 * np.where(x < 1.0, x, 1.0) + 30.0 * strength / 100.0 + 30.0 * y
        cols += [vol_ratio.tolist(), momentum.tolist(), close_pos.tolist(), rows[:, 10].astype(np.int64).tolist()]
        features = map(_FEATURES, *cols)
        return list(map(self.signal_maker(meta), bars.open_time[idx].tolist(),
                        np.where(up, "BREAKOUT_UP", "BREAKOUT_DOWN").tolist(),
                        np.where(up, "bullish", "bearish").tolist(), score.tolist(), c.tolist(), features))
