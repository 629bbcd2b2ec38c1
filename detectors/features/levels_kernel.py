"""The batch form of :class:`detectors.levels.LevelBook`: one compiled loop over a
whole series (numba when available, see :mod:`detectors.indicators._jit`).

The three books (active resistances, active supports, broken levels) are small
arrays of level rows kept in the same order as the streaming lists (removal shifts
the rows behind it), and every rule runs in the streaming order with the same
float operations, so the levels, touches, breaks and retests are identical.

Instead of every event, the kernel reports per bar what each level detector needs,
in one output per ``MODE_*``, as one row of :data:`OUT_FIELDS` for each bar that has
it (one pass serves ``levels``, ``breakout`` and ``retest``: :func:`level_rows`
memoizes it per run):

* ``MODE_LEVELS``: the level whose touch (or creation) on this bar brought it to
  exactly ``min_touches`` touches - the support if both sides did;
* ``MODE_BREAKOUT``: among the levels with at least ``min_touches`` touches broken
  on this bar, the first with the most touches, and how many there were;
* ``MODE_RETEST``: among the broken levels with at least ``min_touches`` touches
  retested on this bar, the first with the most touches.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.indicators._jit import kernel

# level row fields (the streaming record's indices; KIND is 0 resistance, 1 support)
PRICE, KIND, TOUCHES, FIRST, LAST, BASE_LOW, BASE_HIGH, PSUM, BROKEN_AT, BROKEN_I, UP, DN = range(12)
N_FIELDS = 12
RES, SUP, BROKEN = 0, 1, 2
MODE_LEVELS, MODE_BREAKOUT, MODE_RETEST = 0, 1, 2
#: columns of an output row
OUT_FIELDS = ("bar", "kind", "price", "touches", "first", "last", "base_low", "base_high", "broken_at",
              "broken_i", "count")
N_OUT = len(OUT_FIELDS)


@kernel
def level_book_kernel(t: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, k: int, tol: float,
                      max_levels: int, retest_window: int, min_touches: int, out: np.ndarray,
                      rows: np.ndarray) -> None:
    """Run the book over the series; fill ``out[mode]`` (3 x n x N_OUT) and set
    ``rows[mode]`` to the number of its rows written. (One function, helpers written
    out: numba compiles it once.)"""
    n = len(c)
    up_f = 1.0 + tol
    dn_f = 1.0 - tol
    books = np.zeros((3, max_levels, N_FIELDS))
    counts = np.zeros(3, dtype=np.int64)
    lv = np.empty(N_FIELDS)
    best_l = np.empty(N_FIELDS)
    best_b = np.empty(N_FIELDS)
    best_r = np.empty(N_FIELDS)
    rows[:] = 0
    for i in range(n):
        hi = h[i]
        li = lo[i]
        ci = c[i]
        ti = float(t[i])
        found_l = False
        found_b = False
        found_r = False
        nbest = 0
        # base extremes of active levels
        for j in range(counts[0]):
            if li < books[0, j, BASE_LOW]:
                books[0, j, BASE_LOW] = li
        for j in range(counts[1]):
            if hi > books[1, j, BASE_HIGH]:
                books[1, j, BASE_HIGH] = hi
        # breaks: the close crosses an active level from the other side
        pc = c[i - 1] if i > 0 else math.nan
        b = RES if ci > pc else SUP if ci < pc else -1
        j = 0
        while b >= 0 and j < counts[b]:
            if b == RES:
                x = books[b, j, UP]
                hit = ci > x and pc <= x
            else:
                x = books[b, j, DN]
                hit = ci < x and pc >= x
            if not hit:
                j += 1
                continue
            for f in range(N_FIELDS):
                lv[f] = books[b, j, f]
            for r in range(j, counts[b] - 1):  # remove row j, keeping the order
                for f in range(N_FIELDS):
                    books[b, r, f] = books[b, r + 1, f]
            counts[b] -= 1
            lv[BROKEN_AT] = ti
            lv[BROKEN_I] = i
            nb = counts[BROKEN]
            if nb >= max_levels:  # the oldest broken level goes
                for r in range(nb - 1):
                    for f in range(N_FIELDS):
                        books[BROKEN, r, f] = books[BROKEN, r + 1, f]
                nb -= 1
            for f in range(N_FIELDS):
                books[BROKEN, nb, f] = lv[f]
            counts[BROKEN] = nb + 1
            if lv[TOUCHES] >= min_touches:
                nbest += 1
                if not found_b or lv[TOUCHES] > best_b[TOUCHES]:
                    for f in range(N_FIELDS):
                        best_b[f] = lv[f]
                    found_b = True
        # retests of broken levels (not on the breaking bar itself)
        j = 0
        while j < counts[BROKEN]:
            bi = books[BROKEN, j, BROKEN_I]
            drop = False
            if bi == i:
                pass
            elif i - bi > retest_window:
                drop = True
            elif books[BROKEN, j, KIND] == RES:
                if ci < books[BROKEN, j, DN]:
                    drop = True  # failed breakout
                elif li <= books[BROKEN, j, UP] and ci > books[BROKEN, j, PRICE]:
                    drop = True
                    if books[BROKEN, j, TOUCHES] >= min_touches \
                            and (not found_r or books[BROKEN, j, TOUCHES] > best_r[TOUCHES]):
                        for f in range(N_FIELDS):
                            best_r[f] = books[BROKEN, j, f]
                        found_r = True
            else:
                if ci > books[BROKEN, j, UP]:
                    drop = True
                elif hi >= books[BROKEN, j, DN] and ci < books[BROKEN, j, PRICE]:
                    drop = True
                    if books[BROKEN, j, TOUCHES] >= min_touches \
                            and (not found_r or books[BROKEN, j, TOUCHES] > best_r[TOUCHES]):
                        for f in range(N_FIELDS):
                            best_r[f] = books[BROKEN, j, f]
                        found_r = True
            if not drop:
                j += 1
                continue
            for r in range(j, counts[BROKEN] - 1):
                for f in range(N_FIELDS):
                    books[BROKEN, r, f] = books[BROKEN, r + 1, f]
            counts[BROKEN] -= 1
        if found_b:
            rows[MODE_BREAKOUT] = _put(out[MODE_BREAKOUT], rows[MODE_BREAKOUT], i, best_b, nbest)
        if found_r:
            rows[MODE_RETEST] = _put(out[MODE_RETEST], rows[MODE_RETEST], i, best_r, 0)
        # swing points confirmed k bars late: the middle bar of the last 2k + 1
        if i < 2 * k:
            continue
        m = i - k
        for b in range(2):
            if b == RES:
                price = h[m]
                # cheap necessary tests first: the current bar and the one before the middle
                swing = price >= hi and price > h[m - 1]
                for q in range(i - 2 * k, m - 1):
                    swing = swing and h[q] < price
                for q in range(m + 1, i):
                    swing = swing and h[q] <= price
            else:
                price = lo[m]
                swing = price <= li and price < lo[m - 1]
                for q in range(i - 2 * k, m - 1):
                    swing = swing and lo[q] > price
                for q in range(m + 1, i):
                    swing = swing and lo[q] >= price
            if not swing:
                continue
            # touch the first level within tolerance, else open a new one
            tm = float(t[m])
            nl = counts[b]
            j = 0
            while j < nl:
                p = books[b, j, PRICE]
                if abs(price - p) <= tol * p:
                    break
                j += 1
            if j < nl:
                touches = books[b, j, TOUCHES] + 1.0
                books[b, j, TOUCHES] = touches
                books[b, j, PSUM] += price
                p = books[b, j, PSUM] / touches
                books[b, j, PRICE] = p
                books[b, j, UP] = p * up_f
                books[b, j, DN] = p * dn_f
                books[b, j, LAST] = tm
            else:
                if nl >= max_levels:  # the least recently touched goes (the first of equals)
                    jmin = 0
                    for r in range(1, nl):
                        if books[b, r, LAST] < books[b, jmin, LAST]:
                            jmin = r
                    for r in range(jmin, nl - 1):
                        for f in range(N_FIELDS):
                            books[b, r, f] = books[b, r + 1, f]
                    nl -= 1
                j = nl
                books[b, j, PRICE] = price
                books[b, j, KIND] = b
                books[b, j, TOUCHES] = 1.0
                books[b, j, FIRST] = tm
                books[b, j, LAST] = tm
                books[b, j, BASE_LOW] = price
                books[b, j, BASE_HIGH] = price
                books[b, j, PSUM] = price
                books[b, j, BROKEN_AT] = -1.0
                books[b, j, BROKEN_I] = -1.0
                books[b, j, UP] = price * up_f
                books[b, j, DN] = price * dn_f
                counts[b] = nl + 1
            if books[b, j, TOUCHES] == min_touches:  # support wins: b == 1 last
                for f in range(N_FIELDS):
                    best_l[f] = books[b, j, f]
                found_l = True
        if found_l:
            rows[MODE_LEVELS] = _put(out[MODE_LEVELS], rows[MODE_LEVELS], i, best_l, 0)


@kernel
def _put(out: np.ndarray, row: int, i: int, lv: np.ndarray, count: int) -> int:
    out[row, 0] = i
    out[row, 1] = lv[KIND]
    out[row, 2] = lv[PRICE]
    out[row, 3] = lv[TOUCHES]
    out[row, 4] = lv[FIRST]
    out[row, 5] = lv[LAST]
    out[row, 6] = lv[BASE_LOW]
    out[row, 7] = lv[BASE_HIGH]
    out[row, 8] = lv[BROKEN_AT]
    out[row, 9] = lv[BROKEN_I]
    out[row, 10] = count
    return row + 1


def level_rows(bars: Any, p: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (``OUT_FIELDS``) of the bars that have a hit, per ``MODE_*``, for level
    params ``p`` over ``bars`` (a :class:`detectors.base.BarArrays`): one kernel run
    per run and parameters, kept in ``bars.shared``."""
    key = ("level_book", p.swing_window, p.tolerance, p.max_levels, p.retest_window, p.min_touches)
    done: tuple[np.ndarray, np.ndarray, np.ndarray] | None = bars.shared.get(key)
    if done is not None:
        return done
    n = len(bars.close)
    out = np.empty((3, n, N_OUT))
    rows = np.zeros(3, dtype=np.int64)
    level_book_kernel(np.ascontiguousarray(bars.open_time, dtype=np.int64), bars.high, bars.low, bars.close,
                      p.swing_window, p.tolerance, p.max_levels, p.retest_window, p.min_touches, out, rows)
    levels, breakout, retest = rows.tolist()
    done = bars.shared[key] = (out[MODE_LEVELS, :levels], out[MODE_BREAKOUT, :breakout], out[MODE_RETEST, :retest])
    return done
