"""Support and resistance levels from swing points, and the detector that reports
them.

:class:`LevelBook` is the pure, bounded state the breakout and retest detectors
share. Per bar (index ``i``, open time ``t``):

* **Swing points.** Bar ``j = i - swing_window`` is a swing high when its high is
  strictly above the highs of the ``swing_window`` bars before it and at least
  as high as the ``swing_window`` bars after it (so it is confirmed
  ``swing_window`` bars late, never repainted); swing lows mirror it.
* **Levels.** A swing high within ``tolerance`` (relative, 0.003) of an active
  resistance touches it (touches + 1, last touch = ``t_j``, price = mean of
  its touch prices); otherwise it opens a new resistance with one touch. Swing
  lows feed supports the same way. ``strength = min(100, 25 * touches)``.
  ``base_height`` = (resistance - lowest low since its first touch) / resistance
  (support: (highest high since - support) / support), as a fraction.
* **Breaks.** A close above ``resistance * (1 + tolerance)`` after a close at or
  below it breaks the resistance (a close below ``support * (1 - tolerance)``
  breaks a support); the level leaves the active book and joins the broken
  book for ``retest_window`` bars.
* **Retests.** Within ``retest_window`` bars of its break, a broken resistance
  is retested when a bar's low comes within ``tolerance`` of it and the bar
  closes above it (it now acts as support); a broken support mirrors it. A
  close back beyond the level on the wrong side (below a broken resistance by
  more than ``tolerance``) fails the breakout and drops the level. A broken level
  is retested at most once.
* **Bounds.** At most ``max_levels`` active levels per side (the least recently
  touched goes first) and at most ``max_levels`` broken ones.

:class:`SupportResistance` (registry name ``levels``) emits ``SUPPORT_LEVEL`` /
``RESISTANCE_LEVEL`` on the bar that confirms a level's ``min_touches``-th touch
(default 2), with the level's fields as features. Gaps: bars, not minutes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.features.levels_kernel import MODE_LEVELS, level_rows
from detectors.patterns.exact_state import ExactStateMixin
from detectors.records import Signal

# level record (a list, mutated in place): index names. UP / DN cache
# ``price * (1 + tolerance)`` / ``price * (1 - tolerance)``, recomputed when the price moves.
PRICE, KIND, TOUCHES, FIRST, LAST, BASE_LOW, BASE_HIGH, PSUM, BROKEN_AT, BROKEN_I, UP, DN = range(12)

_NO_EVENTS: list[tuple[str, list[Any]]] = []  # shared, never mutated


def level_features(lv: list[Any]) -> dict[str, Any]:
    price = lv[PRICE]
    if lv[KIND] == "resistance":
        base = (price - lv[BASE_LOW]) / price
    else:
        base = (lv[BASE_HIGH] - price) / price
    return {
        "level_price": price, "level_type": lv[KIND], "touches": lv[TOUCHES],
        "strength": min(100.0, 25.0 * lv[TOUCHES]), "first_touch": lv[FIRST], "last_touch": lv[LAST],
        "base_height": base,
    }


class LevelBook:
    """Bounded swing-level state; :meth:`update` advances it by one bar and
    returns the events of that bar as ``(event, level)`` pairs, event one of
    ``touch``, ``new``, ``break``, ``retest``, ``fail`` (an empty list, shared:
    do not mutate it, when nothing happened). Its batch twin is
    :mod:`detectors.features.levels_kernel`."""

    __slots__ = ("k", "tol", "up_f", "dn_f", "max_levels", "retest_window", "times", "highs", "lows", "i",
                 "res", "sup", "broken", "prev_close")

    def __init__(self, swing_window: int, tolerance: float, max_levels: int, retest_window: int) -> None:
        self.k = swing_window
        self.tol = tolerance
        self.up_f = 1.0 + tolerance
        self.dn_f = 1.0 - tolerance
        self.max_levels = max_levels
        self.retest_window = retest_window
        self.times: deque[int] = deque(maxlen=2 * swing_window + 1)
        self.highs: deque[float] = deque(maxlen=2 * swing_window + 1)
        self.lows: deque[float] = deque(maxlen=2 * swing_window + 1)
        self.i = -1
        self.res: list[list[Any]] = []
        self.sup: list[list[Any]] = []
        self.broken: list[list[Any]] = []
        self.prev_close = float("nan")

    # ---- checkpoint ---------------------------------------------------------------
    def snapshot(self) -> tuple[Any, ...]:
        return (tuple(self.times), tuple(self.highs), tuple(self.lows), self.i, tuple(map(tuple, self.res)),
                tuple(map(tuple, self.sup)), tuple(map(tuple, self.broken)), self.prev_close)

    def restore(self, snap: tuple[Any, ...]) -> None:
        times, highs, lows, self.i, res, sup, broken, self.prev_close = snap
        for dq, values in ((self.times, times), (self.highs, highs), (self.lows, lows)):
            dq.clear()
            dq.extend(values)
        self.res = [list(x) for x in res]
        self.sup = [list(x) for x in sup]
        self.broken = [list(x) for x in broken]

    # ---- one bar ---------------------------------------------------------------------
    def _touch(self, book: list[list[Any]], kind: str, price: float, t: int, events: list) -> None:
        tol = self.tol
        for lv in book:
            if abs(price - lv[PRICE]) <= tol * lv[PRICE]:
                n = lv[TOUCHES] = lv[TOUCHES] + 1
                lv[PSUM] += price
                p = lv[PRICE] = lv[PSUM] / n
                lv[UP] = p * self.up_f
                lv[DN] = p * self.dn_f
                lv[LAST] = t
                events.append(("touch", lv))
                return
        # base extremes start at the swing bar itself
        lv = [price, kind, 1, t, t, price, price, price, -1, -1, price * self.up_f, price * self.dn_f]
        if len(book) >= self.max_levels:
            book.remove(min(book, key=lambda x: x[LAST]))
        book.append(lv)
        events.append(("new", lv))

    def update(self, t: int, h: float, lo: float, c: float) -> list[tuple[str, list[Any]]]:
        i = self.i = self.i + 1
        events = _NO_EVENTS
        res = self.res
        sup = self.sup
        # base extremes of active levels
        for lv in res:
            if lo < lv[BASE_LOW]:
                lv[BASE_LOW] = lo
        for lv in sup:
            if h > lv[BASE_HIGH]:
                lv[BASE_HIGH] = h
        # breaks of active levels: the close crosses the level from the other side
        # (the previous close is NaN on the first bar: nothing breaks)
        pc = self.prev_close
        if c > pc:
            hit = [lv for lv in res if c > lv[UP] and pc <= lv[UP]]
            if hit:
                events = []
                for lv in hit:
                    res.remove(lv)
                    lv[BROKEN_AT] = t
                    lv[BROKEN_I] = i
                    self._add_broken(lv)
                    events.append(("break", lv))
        elif c < pc:
            hit = [lv for lv in sup if c < lv[DN] and pc >= lv[DN]]
            if hit:
                events = []
                for lv in hit:
                    sup.remove(lv)
                    lv[BROKEN_AT] = t
                    lv[BROKEN_I] = i
                    self._add_broken(lv)
                    events.append(("break", lv))
        # retests of broken levels (not on the breaking bar itself)
        broken = self.broken
        if broken:
            window = self.retest_window
            for lv in list(broken):
                bi = lv[BROKEN_I]
                if bi == i:
                    continue
                if i - bi > window:
                    broken.remove(lv)
                    continue
                if lv[KIND] == "resistance":
                    if c < lv[DN]:
                        ev = "fail"
                    elif lo <= lv[UP] and c > lv[PRICE]:
                        ev = "retest"
                    else:
                        continue
                elif c > lv[UP]:
                    ev = "fail"
                elif h >= lv[DN] and c < lv[PRICE]:
                    ev = "retest"
                else:
                    continue
                broken.remove(lv)
                if events is _NO_EVENTS:
                    events = []
                events.append((ev, lv))
        # swing points confirmed k bars late: the middle bar of the last 2k + 1
        self.prev_close = c
        highs = self.highs
        lows = self.lows
        self.times.append(t)
        highs.append(h)
        lows.append(lo)
        k = self.k
        if len(highs) == 2 * k + 1:
            hj = highs[k]
            lj = lows[k]
            # cheap necessary tests first: the current bar and the one before the middle
            if hj >= h and hj > highs[k - 1]:
                hs = list(highs)
                if max(hs[:k]) < hj and max(hs[k + 1:]) <= hj:
                    if events is _NO_EVENTS:
                        events = []
                    self._touch(res, "resistance", hj, self.times[k], events)
            if lj <= lo and lj < lows[k - 1]:
                ls = list(lows)
                if min(ls[:k]) > lj and min(ls[k + 1:]) >= lj:
                    if events is _NO_EVENTS:
                        events = []
                    self._touch(sup, "support", lj, self.times[k], events)
        return events

    def _add_broken(self, lv: list[Any]) -> None:
        if len(self.broken) >= self.max_levels:
            self.broken.pop(0)
        self.broken.append(lv)


class LevelParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    swing_window: int = 3
    tolerance: float = 0.003
    max_levels: int = 8
    retest_window: int = 20
    min_touches: int = 2


def check_level_params(name: str, p: Any) -> None:
    if p.swing_window < 1:
        raise ValueError(f"detector {name}: swing_window must be >= 1, got {p.swing_window}")
    if not (0 <= p.tolerance < 0.5):
        raise ValueError(f"detector {name}: tolerance must be in [0, 0.5), got {p.tolerance}")
    if p.max_levels < 1 or p.retest_window < 1 or p.min_touches < 1:
        raise ValueError(f"detector {name}: max_levels, retest_window and min_touches must be >= 1")


def level_of_row(row: list[float]) -> list[Any]:
    """A level record from a :mod:`detectors.features.levels_kernel` output row, with
    the types the streaming record has (ints for counts and times)."""
    _, kind, price, touches, first, last, base_low, base_high, broken_at, broken_i, _ = row
    return [price, "support" if kind else "resistance", int(touches), int(first), int(last), base_low,
            base_high, 0.0, int(broken_at), int(broken_i)]


class LevelDetectorBase(ExactStateMixin, Detector):
    """Shared plumbing of the level-based detectors: a :class:`LevelBook`, exact
    undo/checkpoint, and a batch path through the compiled book
    (:mod:`detectors.features.levels_kernel`). Subclasses set ``_mode`` and implement
    ``_on_bar`` (streaming) and ``_on_row`` (batch: one kernel row)."""

    _mode: int

    def _make_book(self) -> LevelBook:
        p = self.params
        return LevelBook(p.swing_window, p.tolerance, p.max_levels, p.retest_window)

    def _check_params(self) -> None:
        check_level_params(self.name, self.params)

    def _reset(self) -> None:
        self._book = self._make_book()
        self._reset_extra()

    def _reset_extra(self) -> None:
        """Reset detector-specific state (none by default)."""

    def _snapshot(self) -> tuple:
        return (self._book.snapshot(),)

    def _restore(self, snap: tuple) -> None:
        self._book.restore(tuple(snap[0]))

    def _advance(self, bar: Bar) -> list[Signal]:
        return self._on_bar(self.meta, bar.open_time, bar.open, bar.high, bar.low, bar.close, bar.volume)

    def _on_bar(self, meta: SeriesMeta | None, t: int, o: float, h: float, lo: float, c: float,
                v: float) -> list[Signal]:
        raise NotImplementedError

    def _on_row(self, meta: SeriesMeta, bars: BarArrays, i: int, t: int, c: float, row: list[float],
                extra: Any) -> Signal | None:
        """The signal of one kernel row (bar ``i``, open time ``t``, close ``c``);
        ``extra`` is what :meth:`_batch_extra` returned."""
        raise NotImplementedError

    def _batch_extra(self, bars: BarArrays) -> Any:
        """Whole-series inputs ``_on_row`` needs besides the levels (none by default)."""
        return None

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        rows = level_rows(bars.open_time, bars.high, bars.low, bars.close, self.params, self._mode)
        idx = rows[:, 0].astype(np.int64)
        extra = self._batch_extra(bars)
        on_row = self._on_row
        out = [on_row(meta, bars, i, t, c, row, extra) for i, t, c, row in zip(
            idx.tolist(), bars.open_time[idx].tolist(), bars.close[idx].tolist(), rows.tolist(), strict=True)]
        return [sig for sig in out if sig is not None]


class SupportResistance(LevelDetectorBase):
    name = "levels"
    version = "1.0.0"
    Params = LevelParams
    _mode = MODE_LEVELS

    @property
    def warmup(self) -> int:
        return 2 * self.params.swing_window + 1

    def _signal(self, meta: SeriesMeta | None, t: int, c: float, best: list[Any]) -> Signal:
        f = level_features(best)
        support = best[KIND] == "support"
        return self.make_signal(meta, t, signal_type="SUPPORT_LEVEL" if support else "RESISTANCE_LEVEL",
                                direction="bullish" if support else "bearish", score=f["strength"],
                                price=c, features=f)

    def _on_bar(self, meta: SeriesMeta | None, t: int, o: float, h: float, lo: float, c: float,
                v: float) -> list[Signal]:
        events = self._book.update(t, h, lo, c)
        if not events:
            return []
        need = self.params.min_touches
        best = None
        for ev, lv in events:
            if lv[TOUCHES] == need and (ev == "touch" or ev == "new") and (best is None or lv[KIND] == "support"):
                best = lv
        return [] if best is None else [self._signal(meta, t, c, best)]

    def _on_row(self, meta: SeriesMeta, bars: BarArrays, i: int, t: int, c: float, row: list[float],
                extra: Any) -> Signal | None:
        return self._signal(meta, t, c, level_of_row(row))
