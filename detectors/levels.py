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

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.patterns.exact_state import ExactStateMixin
from detectors.records import Signal

# level record (a list, mutated in place): index names
PRICE, KIND, TOUCHES, FIRST, LAST, BASE_LOW, BASE_HIGH, PSUM, BROKEN_AT, BROKEN_I = range(10)


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
    ``touch``, ``new``, ``break``, ``retest``, ``fail``."""

    __slots__ = ("k", "tol", "max_levels", "retest_window", "win", "i", "res", "sup", "broken", "prev_close")

    def __init__(self, swing_window: int, tolerance: float, max_levels: int, retest_window: int) -> None:
        self.k = swing_window
        self.tol = tolerance
        self.max_levels = max_levels
        self.retest_window = retest_window
        self.win: deque[tuple[int, float, float]] = deque(maxlen=2 * swing_window + 1)
        self.i = -1
        self.res: list[list[Any]] = []
        self.sup: list[list[Any]] = []
        self.broken: list[list[Any]] = []
        self.prev_close = float("nan")

    # ---- checkpoint ---------------------------------------------------------------
    def snapshot(self) -> tuple[Any, ...]:
        return (tuple(self.win), self.i, tuple(map(tuple, self.res)), tuple(map(tuple, self.sup)),
                tuple(map(tuple, self.broken)), self.prev_close)

    def restore(self, snap: tuple[Any, ...]) -> None:
        win, self.i, res, sup, broken, self.prev_close = snap
        self.win.clear()
        self.win.extend(tuple(w) for w in win)
        self.res = [list(x) for x in res]
        self.sup = [list(x) for x in sup]
        self.broken = [list(x) for x in broken]

    # ---- one bar ---------------------------------------------------------------------
    def _touch(self, book: list[list[Any]], kind: str, price: float, t: int, events: list) -> None:
        tol = self.tol
        for lv in book:
            if abs(price - lv[PRICE]) <= tol * lv[PRICE]:
                lv[TOUCHES] += 1
                lv[PSUM] += price
                lv[PRICE] = lv[PSUM] / lv[TOUCHES]
                lv[LAST] = t
                events.append(("touch", lv))
                return
        # base extremes start at the swing bar itself
        lv = [price, kind, 1, t, t, price, price, price, -1, -1]
        if len(book) >= self.max_levels:
            book.remove(min(book, key=lambda x: x[LAST]))
        book.append(lv)
        events.append(("new", lv))

    def update(self, t: int, h: float, lo: float, c: float) -> list[tuple[str, list[Any]]]:
        self.i += 1
        i = self.i
        events: list[tuple[str, list[Any]]] = []
        tol = self.tol
        pc = self.prev_close
        # base extremes of active levels
        for lv in self.res:
            if lo < lv[BASE_LOW]:
                lv[BASE_LOW] = lo
        for lv in self.sup:
            if h > lv[BASE_HIGH]:
                lv[BASE_HIGH] = h
        # breaks of active levels (needs the previous close on the other side)
        if i > 0:
            for lv in list(self.res):
                p = lv[PRICE]
                if c > p * (1.0 + tol) and pc <= p * (1.0 + tol):
                    self.res.remove(lv)
                    lv[BROKEN_AT] = t
                    lv[BROKEN_I] = i
                    self._add_broken(lv)
                    events.append(("break", lv))
            for lv in list(self.sup):
                p = lv[PRICE]
                if c < p * (1.0 - tol) and pc >= p * (1.0 - tol):
                    self.sup.remove(lv)
                    lv[BROKEN_AT] = t
                    lv[BROKEN_I] = i
                    self._add_broken(lv)
                    events.append(("break", lv))
        # retests of broken levels (not on the breaking bar itself)
        for lv in list(self.broken):
            if lv[BROKEN_I] == i:
                continue
            if i - lv[BROKEN_I] > self.retest_window:
                self.broken.remove(lv)
                continue
            p = lv[PRICE]
            if lv[KIND] == "resistance":
                if c < p * (1.0 - tol):
                    self.broken.remove(lv)
                    events.append(("fail", lv))
                elif lo <= p * (1.0 + tol) and c > p:
                    self.broken.remove(lv)
                    events.append(("retest", lv))
            else:
                if c > p * (1.0 + tol):
                    self.broken.remove(lv)
                    events.append(("fail", lv))
                elif h >= p * (1.0 - tol) and c < p:
                    self.broken.remove(lv)
                    events.append(("retest", lv))
        # swing points confirmed k bars late
        win = self.win
        win.append((t, h, lo))
        k = self.k
        if len(win) == 2 * k + 1:
            tj, hj, lj = win[k]
            is_high = True
            is_low = True
            for n, (_, hh, ll) in enumerate(win):
                if n == k:
                    continue
                if n < k:
                    if hh >= hj:
                        is_high = False
                    if ll <= lj:
                        is_low = False
                else:
                    if hh > hj:
                        is_high = False
                    if ll < lj:
                        is_low = False
            if is_high:
                self._touch(self.res, "resistance", hj, tj, events)
            if is_low:
                self._touch(self.sup, "support", lj, tj, events)
        self.prev_close = c
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


class LevelDetectorBase(ExactStateMixin, Detector):
    """Shared plumbing of the level-based detectors: a :class:`LevelBook`, exact
    undo/checkpoint, and a batch path that runs the same step in a loop."""

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

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        run = type(self)(**msgspec.to_builtins(self.params))
        out: list[Signal] = []
        on_bar = run._on_bar
        for t, o, h, lo, c, v in zip(bars.open_time.tolist(), bars.open.tolist(), bars.high.tolist(),
                                     bars.low.tolist(), bars.close.tolist(), bars.volume.tolist(),
                                     strict=True):
            sigs = on_bar(meta, t, o, h, lo, c, v)
            if sigs:
                out.extend(sigs)
        return out


class SupportResistance(LevelDetectorBase):
    name = "levels"
    version = "1.0.0"
    Params = LevelParams

    @property
    def warmup(self) -> int:
        return 2 * self.params.swing_window + 1

    def _on_bar(self, meta: SeriesMeta | None, t: int, o: float, h: float, lo: float, c: float,
                v: float) -> list[Signal]:
        events = self._book.update(t, h, lo, c)
        need = self.params.min_touches
        best = None
        for ev, lv in events:
            if ev in ("touch", "new") and lv[TOUCHES] == need and (best is None or lv[KIND] == "support"):
                best = lv
        if best is None:
            return []
        f = level_features(best)
        kind = "SUPPORT_LEVEL" if best[KIND] == "support" else "RESISTANCE_LEVEL"
        direction = "bullish" if best[KIND] == "support" else "bearish"
        return [self.make_signal(meta, t, signal_type=kind, direction=direction, score=f["strength"],
                                 price=c, features=f)]
