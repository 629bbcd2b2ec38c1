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

from abc import abstractmethod
from collections import deque
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.features.levels_kernel import MODE_LEVELS, level_rows
from detectors.features.rows import dict_builder
from detectors.patterns.exact_state import ExactStateMixin, Feed
from detectors.records import Signal

# level record (a list, mutated in place): index names. UP / DN cache
# ``price * (1 + tolerance)`` / ``price * (1 - tolerance)``, recomputed when the price moves.
PRICE, KIND, TOUCHES, FIRST, LAST, BASE_LOW, BASE_HIGH, PSUM, BROKEN_AT, BROKEN_I, UP, DN = range(12)

_NO_EVENTS: list[tuple[str, list[Any]]] = []  # shared, never mutated
_INF = float("inf")


#: the keys of :func:`level_features`, in its order
LEVEL_KEYS = ("level_price", "level_type", "touches", "strength", "first_touch", "last_touch", "base_height")
_LEVEL_TYPES = np.array(["resistance", "support"])  # indexed by the kernel's kind
_FEATURES = dict_builder(LEVEL_KEYS)


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
                 "res", "sup", "broken", "prev_close", "res_base_hi", "sup_base_lo", "res_up_lo", "sup_dn_hi")

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
        self._loosen_bounds()

    def _loosen_bounds(self) -> None:
        # Bounds that let a bar skip the per-level loops that cannot change anything:
        # res_base_hi >= every resistance's BASE_LOW, sup_base_lo <= every support's
        # BASE_HIGH, res_up_lo <= every resistance's UP, sup_dn_hi >= every support's
        # DN. Derived state: the loosest values are always valid.
        self.res_base_hi = self.sup_dn_hi = _INF
        self.sup_base_lo = self.res_up_lo = -_INF

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
        self._loosen_bounds()

    # ---- one bar ---------------------------------------------------------------------
    def _touch(self, book: list[list[Any]], kind: str, price: float, t: int, events: list) -> None:
        tol = self.tol
        for lv in book:
            if abs(price - lv[PRICE]) <= tol * lv[PRICE]:
                n = lv[TOUCHES] = lv[TOUCHES] + 1
                lv[PSUM] += price
                p = lv[PRICE] = lv[PSUM] / n
                up = lv[UP] = p * self.up_f
                dn = lv[DN] = p * self.dn_f
                lv[LAST] = t
                self._widen(kind, up, dn, lv[BASE_LOW] if kind == "resistance" else lv[BASE_HIGH])
                events.append(("touch", lv))
                return
        # base extremes start at the swing bar itself
        lv = [price, kind, 1, t, t, price, price, price, -1, -1, price * self.up_f, price * self.dn_f]
        self._widen(kind, lv[UP], lv[DN], price)
        if len(book) >= self.max_levels:
            book.remove(min(book, key=lambda x: x[LAST]))
        book.append(lv)
        events.append(("new", lv))

    def _widen(self, kind: str, up: float, dn: float, base: float) -> None:
        """Keep the bounds valid for a level whose UP/DN (and, new, base) changed."""
        if kind == "resistance":
            if up < self.res_up_lo:
                self.res_up_lo = up
            if base > self.res_base_hi:
                self.res_base_hi = base
        else:
            if dn > self.sup_dn_hi:
                self.sup_dn_hi = dn
            if base < self.sup_base_lo:
                self.sup_base_lo = base

    def update(self, t: int, h: float, lo: float, c: float) -> list[tuple[str, list[Any]]]:
        i = self.i = self.i + 1
        events = _NO_EVENTS
        res = self.res
        sup = self.sup
        # base extremes of active levels (no loop when no level can change: after it,
        # every base low is <= lo, every base high >= h)
        if lo < self.res_base_hi:
            for lv in res:
                if lo < lv[BASE_LOW]:
                    lv[BASE_LOW] = lo
            self.res_base_hi = lo
        if h > self.sup_base_lo:
            for lv in sup:
                if h > lv[BASE_HIGH]:
                    lv[BASE_HIGH] = h
            self.sup_base_lo = h
        # breaks of active levels: the close crosses the level from the other side
        # (the previous close is NaN on the first bar: nothing breaks); only a close
        # beyond the nearest level can break one (the bounds are then made exact)
        pc = self.prev_close
        if c > pc and c > self.res_up_lo:
            hit = [lv for lv in res if c > lv[UP] and pc <= lv[UP]]
            if hit:
                events = []
                for lv in hit:
                    res.remove(lv)
                    lv[BROKEN_AT] = t
                    lv[BROKEN_I] = i
                    self._add_broken(lv)
                    events.append(("break", lv))
            self.res_up_lo = min([lv[UP] for lv in res], default=_INF)
        elif c < pc and c < self.sup_dn_hi:
            hit = [lv for lv in sup if c < lv[DN] and pc >= lv[DN]]
            if hit:
                events = []
                for lv in hit:
                    sup.remove(lv)
                    lv[BROKEN_AT] = t
                    lv[BROKEN_I] = i
                    self._add_broken(lv)
                    events.append(("break", lv))
            self.sup_dn_hi = max([lv[DN] for lv in sup], default=-_INF)
        # retests of broken levels (not on the breaking bar itself)
        broken = self.broken
        if broken:
            # removals wait for the end of the loop (no copy of the list per bar); the same
            # remove() calls in the same order leave the same list
            window = self.retest_window
            drop = None
            for lv in broken:
                bi = lv[BROKEN_I]
                if bi == i:
                    continue
                if i - bi > window:
                    if drop is None:
                        drop = []
                    drop.append(lv)
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
                if drop is None:
                    drop = []
                drop.append(lv)
                if events is _NO_EVENTS:
                    events = []
                events.append((ev, lv))
            if drop is not None:
                for lv in drop:
                    broken.remove(lv)
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


class LevelFeed(Feed):
    """One :class:`LevelBook` for every level detector of a set; ``events`` are the
    last bar's."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        self.state = LevelBook(spec["swing_window"], spec["tolerance"], spec["max_levels"], spec["retest_window"])
        self.events: list[tuple[str, list[Any]]] = _NO_EVENTS

    def advance(self, bar: Bar) -> None:
        self.events = self.state.update(bar.open_time, bar.high, bar.low, bar.close)

    def step(self, bar: Bar) -> None:  # Feed.step with advance inlined (per bar, for every set)
        left = self._undo_left
        if left:
            self._undo_left = left - 1
            self._replay.append(bar)
        else:
            self._keep_undo(bar)
        self.events = self.state.update(bar.open_time, bar.high, bar.low, bar.close)

    def snapshot(self) -> tuple[Any, ...]:
        return self.state.snapshot()

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.state.restore(snap)
        self.events = _NO_EVENTS


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


def level_columns(rows: np.ndarray) -> tuple[np.ndarray, list[list[Any]]]:
    """:func:`level_features` of the levels of :mod:`detectors.features.levels_kernel`
    output rows, as columns in :data:`LEVEL_KEYS` order with the values and Python
    types of the streaming record (ints for counts and times); and the strengths."""
    kind = rows[:, 1].astype(np.int64)
    price = rows[:, 2]
    touches = rows[:, 3]
    strength = 25.0 * touches
    strength = np.where(strength < 100.0, strength, 100.0)  # min(100.0, .)
    base = np.where(kind == 1, (rows[:, 7] - price) / price, (price - rows[:, 6]) / price)
    return strength, [price.tolist(), _LEVEL_TYPES[kind].tolist(), touches.astype(np.int64).tolist(),
                      strength.tolist(), rows[:, 4].astype(np.int64).tolist(), rows[:, 5].astype(np.int64).tolist(),
                      base.tolist()]


class LevelDetectorBase(ExactStateMixin, Detector):
    """Shared plumbing of the level-based detectors: a :class:`LevelBook`, exact
    undo/checkpoint, and a batch path through the compiled book
    (:mod:`detectors.features.levels_kernel`). Subclasses set ``_mode`` and implement
    ``_advance`` (streaming) and ``_on_rows`` (batch: the kernel rows of one mode)."""

    _mode: int
    #: LevelParams, or BreakoutParams (a superset of the level fields)
    params: Any
    _feed: LevelFeed | None

    def feed_spec(self) -> tuple[type[Feed], dict[str, Any]]:
        p: Any = self.params
        return LevelFeed, {"swing_window": p.swing_window, "tolerance": p.tolerance, "max_levels": p.max_levels,
                           "retest_window": p.retest_window}

    def _use_feed(self, feed: Feed) -> None:
        self._book = feed.state

    def _make_book(self) -> LevelBook:
        p = self.params
        return LevelBook(p.swing_window, p.tolerance, p.max_levels, p.retest_window)

    def _check_params(self) -> None:
        check_level_params(self.name, self.params)

    def _reset(self) -> None:
        if self._own:  # a shared book is the feed's
            self._book = self._make_book()
        self._reset_extra()

    def _reset_extra(self) -> None:
        """Reset detector-specific state (none by default)."""

    def _snapshot(self) -> tuple:
        return (self._book.snapshot(),) if self._own else ()

    def _restore(self, snap: tuple) -> None:
        if self._own:
            self._book.restore(tuple(snap[0]))

    @abstractmethod
    def _advance(self, bar: Bar) -> list[Signal]:
        """Advance by one bar and return its signals: the book first (alone; in a set
        its feed did, and ``self._feed.events`` are the bar's events), then the
        detector's own state."""

    @abstractmethod
    def _on_rows(self, meta: SeriesMeta, bars: BarArrays, idx: np.ndarray, rows: np.ndarray) -> list[Signal]:
        """The signals of the kernel rows ``rows`` (of the bars ``idx``, in order),
        all at once: what :meth:`_advance` gives on each of those bars."""

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        rows = level_rows(bars, self.params)[self._mode]  # one kernel run for the set's level detectors
        return self._on_rows(meta, bars, rows[:, 0].astype(np.int64), rows)


class SupportResistance(LevelDetectorBase):
    name = "levels"
    version = "1.0.0"
    Params = LevelParams
    params: LevelParams
    keeps_own_state = False  # in a set: everything it reads is the feed's
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

    def _advance(self, bar: Bar) -> list[Signal]:
        events = self._feed.events if not self._own else self._book.update(  # type: ignore[union-attr]
            bar.open_time, bar.high, bar.low, bar.close)
        if not events:
            return []
        need = self.params.min_touches
        best = None
        for ev, lv in events:
            if lv[TOUCHES] == need and (ev == "touch" or ev == "new") and (best is None or lv[KIND] == "support"):
                best = lv
        return [] if best is None else [self._signal(self.meta, bar.open_time, bar.close, best)]

    def _on_rows(self, meta: SeriesMeta, bars: BarArrays, idx: np.ndarray, rows: np.ndarray) -> list[Signal]:
        strength, cols = level_columns(rows)
        support = rows[:, 1] == 1
        features = map(_FEATURES, *cols)
        return list(map(self.signal_maker(meta), bars.open_time[idx].tolist(),
                        np.where(support, "SUPPORT_LEVEL", "RESISTANCE_LEVEL").tolist(),
                        np.where(support, "bullish", "bearish").tolist(), cols[3], bars.close[idx].tolist(),
                        features))
