"""Candlestick pattern definitions, evaluated by one compiled per-bar step.

:func:`candle_step` reads one bar into a small float64 state vector and returns
a bit mask over ``PATTERNS`` (bit ``j`` = the j-th pattern, so the lowest set
bit is the highest priority). Streaming calls it once per bar, the batch kernel
in a loop over the arrays: the same compiled function, so both paths find the
same patterns bit for bit. Without numba (``SCANFLOW_NO_JIT=1``) the same
source runs as Python.

A bar's shape, with ``body = |C - O|``, ``rng = H - L``,
``top = (O + C + body) / 2`` (= max(O, C)), ``bottom = (O + C - body) / 2``,
``upper = H - top``, ``lower = bottom - L``, ``mid = (O + C) / 2``; a bar is
``bull`` when ``C > O`` and ``bear`` when ``C < O``. A flat bar (``rng == 0``)
matches no single-bar pattern.

Parameters (of :mod:`detectors.candlestick_patterns`): ``doji_body`` 0.1, ``small_body`` 0.3,
``long_body`` 0.6 (fractions of the bar's own range), ``shadow_mult`` 2.0 (a
hammer's shadow at least twice its body), ``tiny_shadow`` 0.1 (fraction of the
range).

Trend context, relative to volatility so that it means the same on every
timeframe and asset. A pattern's prior trend is measured over the
``trend_lookback`` (5) bars ending with the bar *before the pattern's first
bar* (bar ``e``): ``move = close[e] - close[e - trend_lookback]``, in units of
the average bar range ``avg = mean(high - low)`` over the ``range_lookback``
(20) bars ending with ``e``: ``trend_ranges = move / avg`` (0 when those bars
are all flat). ``down`` when the close fell and ``trend_ranges <= -trend_min``,
``up`` when it rose and ``trend_ranges >= trend_min`` (``trend_min`` 2.0: the
close moved at least two average bar ranges). A windowed mean range rather than
Wilder's ATR: it forgets the past after ``range_lookback`` bars, so a series
gives the same patterns wherever streaming started, and 24/7 crypto bars have no
session gaps that a true range would add. ``trend_min=0`` gives the 1.0
patterns: the sign of the close difference alone, and a doji without context
(three white soldiers / black crows, which had no trend condition in 1.0, then
need that sign); ``range_lookback`` <= ``trend_lookback + 1`` also gives 1.0's
warm-up.

Definitions (b1, b2, b3 = the three most recent bars, b3 the current one):

* ``HAMMER`` (bullish): b3 in a downtrend, ``body <= small*rng``,
  ``lower >= shadow_mult*body``, ``upper <= tiny*rng``, ``rng > 0``.
* ``HANGING_MAN`` (bearish): the hammer shape in an uptrend.
* ``INVERTED_HAMMER`` (bullish): downtrend, ``body <= small*rng``,
  ``upper >= shadow_mult*body``, ``lower <= tiny*rng``, ``rng > 0``.
* ``SHOOTING_STAR`` (bearish): the inverted-hammer shape in an uptrend.
* ``DOJI`` (neutral): ``rng > 0``, ``body <= doji*rng``, after a move of at
  least ``trend_min`` average ranges in either direction
  (``|trend_ranges| >= trend_min``; indecision after a move, not in a range).
* ``BULLISH_ENGULFING``: downtrend before b2, b2 bear, b3 bull,
  ``b3.O <= b2.C``, ``b3.C >= b2.O``, ``b3.body > b2.body``.
* ``BEARISH_ENGULFING``: uptrend, b2 bull, b3 bear, ``b3.O >= b2.C``,
  ``b3.C <= b2.O``, ``b3.body > b2.body``.
* ``BULLISH_HARAMI``: downtrend, b2 a long bear (``body >= long*rng``), b3's
  body strictly inside b2's (``b3.top < b2.O`` and ``b3.bottom > b2.C``).
* ``BEARISH_HARAMI``: uptrend, b2 a long bull, ``b3.top < b2.C``,
  ``b3.bottom > b2.O``.
* ``PIERCING_LINE``: downtrend, b2 a long bear, b3 bull opening at or below
  b2's close and closing above b2's midpoint but below its open.
* ``DARK_CLOUD_COVER``: uptrend, b2 a long bull, b3 bear opening at or above
  b2's close and closing below b2's midpoint but above its open.
* ``MORNING_STAR``: downtrend before b1, b1 a long bear, b2 small
  (``body <= small*rng``) with its top below b1's midpoint, b3 bull with a body
  larger than b2's closing above b1's midpoint. (Crypto trades around the clock,
  so no price gap is required between the bodies.)
* ``EVENING_STAR``: the mirror: uptrend, b1 long bull, b2 small with its bottom
  above b1's midpoint, b3 bear with a larger body closing below b1's midpoint.
* ``THREE_WHITE_SOLDIERS``: downtrend before b1 (the reversal of a decline;
  1.0 had no trend condition here), b1, b2, b3 long bulls, closes rising, each
  open inside the previous body (``prev.O <= O <= prev.C``).
* ``THREE_BLACK_CROWS``: the mirror: uptrend, long bears, falling closes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.indicators._jit import kernel
from detectors.patterns.compiled_state import step_kernel

#: name -> (direction, bars in the pattern, base score); the order is the priority
#: used when several patterns complete on the same bar.
PATTERNS: dict[str, tuple[str, int, float]] = {
    "MORNING_STAR": ("bullish", 3, 70.0),
    "EVENING_STAR": ("bearish", 3, 70.0),
    "THREE_WHITE_SOLDIERS": ("bullish", 3, 70.0),
    "THREE_BLACK_CROWS": ("bearish", 3, 70.0),
    "BULLISH_ENGULFING": ("bullish", 2, 65.0),
    "BEARISH_ENGULFING": ("bearish", 2, 65.0),
    "PIERCING_LINE": ("bullish", 2, 60.0),
    "DARK_CLOUD_COVER": ("bearish", 2, 60.0),
    "BULLISH_HARAMI": ("bullish", 2, 50.0),
    "BEARISH_HARAMI": ("bearish", 2, 50.0),
    "HAMMER": ("bullish", 1, 55.0),
    "SHOOTING_STAR": ("bearish", 1, 55.0),
    "INVERTED_HAMMER": ("bullish", 1, 45.0),
    "HANGING_MAN": ("bearish", 1, 45.0),
    "DOJI": ("neutral", 1, 30.0),
}

#: bit of each pattern in a mask
BIT: dict[str, int] = {name: 1 << j for j, name in enumerate(PATTERNS)}
_THREE_BAR = sum(BIT[n] for n, (_, bars, _) in PATTERNS.items() if bars == 3)
_TWO_BAR = sum(BIT[n] for n, (_, bars, _) in PATTERNS.items() if bars == 2)
(_MORNING, _EVENING, _SOLDIERS, _CROWS, _BULL_ENG, _BEAR_ENG, _PIERCING, _DARK_CLOUD, _BULL_HARAMI,
 _BEAR_HARAMI, _HAMMER, _SHOOTING, _INV_HAMMER, _HANGING, _DOJI) = BIT.values()

#: tag stored as the first item of every snapshot; another tag is refused
LAYOUT = "candlestick_patterns/4"

#: scalar state slots: bars seen, what the patterns read of the two previous
#: bars (b1 the older; flags as 0/1), the previous bar's volume, the prior trends
#: (in average ranges) ending 1, 2 and 3 bars before the next bar; then two rings:
#: the last ``trend_lookback + 4`` closes, the last ``range_lookback + 3`` ranges
SCALARS = ("n", "b1_open", "b1_close", "b1_mid", "b1_long", "b1_bull", "b1_bear",
           "b2_open", "b2_close", "b2_body", "b2_mid", "b2_top", "b2_bottom", "b2_long", "b2_small",
           "b2_bull", "b2_bear", "prev_volume", "trend_1", "trend_2", "trend_3")
(N, O1, C1, MID1, LONG1, BULL1, BEAR1, O2, C2, BODY2, MID2, TOP2, BOTTOM2, LONG2, SMALL2, BULL2, BEAR2,
 PV, T1, T2, T3) = range(len(SCALARS))
_NS = len(SCALARS)

#: what a bar with a wanted pattern leaves in the scratch area for the signal
#: builder: the mask, its body and range, its and the previous bar's volume, the
#: closes the top pattern's trend is measured between (the bar before its first
#: bar, and ``trend_lookback`` bars earlier) and that move in average ranges
HIT_FIELDS = ("mask", "body", "rng", "volume", "prev_volume", "trend_close", "trend_base", "trend_ranges")

# parameter vector slots
P_LB, P_DOJI, P_SMALL, P_LONG, P_SHADOW, P_TINY, P_WANTED, P_END, P_TMIN, P_RLB = range(10)


def params_vector(p: Any, wanted: int) -> np.ndarray:
    return np.array([p.trend_lookback, p.doji_body, p.small_body, p.long_body, p.shadow_mult, p.tiny_shadow,
                     wanted, _NS + p.trend_lookback + 4 + p.range_lookback + 3, p.trend_min, p.range_lookback],
                    dtype=np.float64)


def initial_state(prm: np.ndarray) -> np.ndarray:
    s = np.full(int(prm[P_END]) + len(HIT_FIELDS), math.nan)
    s[[N, LONG1, BULL1, BEAR1, LONG2, SMALL2, BULL2, BEAR2, PV, T1, T2, T3]] = 0.0
    return s


def state_size(prm: np.ndarray) -> int:
    """Length of the state proper (the scratch area excluded)."""
    return int(prm[P_END])


@kernel
def _back(p, k, size):
    """The ring slot ``k`` bars before slot ``p`` (``(p - k) % size`` for
    ``0 <= k < size``, without the integer division)."""
    j = p - k
    return j + size if j < 0 else j


@kernel
def _trend_in_ranges(s, at, back, ranges, r0, rlb, rring):
    """The move of the close from ring slot ``back`` to ring slot ``at`` divided
    by the mean of ``rlb`` ranges of the ring of ``rring`` ranges at
    ``s[ranges:]``, summed from slot ``r0`` on (wrapping at the ring's end: the
    same cells in the same order as bars ``i - rlb + 1 .. i``); 0 when those
    bars are all flat. The slots are given, not computed here: an integer modulo
    per cell would cost more than the sum."""
    acc = 0.0
    stop = r0 + rlb
    if stop > rring:
        for j in range(ranges + r0, ranges + rring):
            acc += s[j]
        for j in range(ranges, ranges + stop - rring):
            acc += s[j]
    else:
        for j in range(ranges + r0, ranges + stop):
            acc += s[j]
    if not acc > 0.0:
        return 0.0
    return (s[_NS + at] - s[_NS + back]) / (acc / rlb)


@step_kernel
def candle_step(s, prm, o, h, lo, c, v):
    """Read one valid bar. Returns the mask of wanted patterns it completes
    (``HIT_FIELDS`` are then in ``s[P_END:]``), 0 when none."""
    lb = int(prm[P_LB])
    rlb = int(prm[P_RLB])
    ring = lb + 4  # closes kept
    rring = rlb + 3  # ranges kept
    i = int(s[N])
    s[N] = i + 1
    body = abs(c - o)
    rng = h - lo
    # ring slots of this bar (those of earlier bars follow with _back): one
    # integer modulo per ring and bar
    p = i % ring
    s[_NS + p] = c
    pr = i % rring
    s[_NS + ring + pr] = rng
    t = o + c
    top = (t + body) * 0.5
    bottom = (t - body) * 0.5
    mid = t * 0.5
    long3 = body >= prm[P_LONG] * rng
    small3 = body <= prm[P_SMALL] * rng
    m = 0
    if i >= ring - 1 and i >= rlb + 2:
        tmin = prm[P_TMIN]
        # the prior trend, in average ranges, before b3 (k=1), b2 (k=2), b1 (k=3):
        # down when <= -tmin and the close fell, up when >= tmin and it rose.
        # Each is the _trend_in_ranges of bar i - k, kept from the bars that ended it
        # (the same ring cells, so the same floats): one window sum per bar, not three
        tr1, tr2, tr3 = s[T1], s[T2], s[T3]
        e1, e2, e3 = s[_NS + _back(p, 1, ring)], s[_NS + _back(p, 2, ring)], s[_NS + _back(p, 3, ring)]
        f1, f2, f3 = (s[_NS + _back(p, 1 + lb, ring)], s[_NS + _back(p, 2 + lb, ring)],
                      s[_NS + _back(p, 3 + lb, ring)])
        down1 = e1 < f1 and -tr1 >= tmin
        up1 = e1 > f1 and tr1 >= tmin
        down2 = e2 < f2 and -tr2 >= tmin
        up2 = e2 > f2 and tr2 >= tmin
        down3 = e3 < f3 and -tr3 >= tmin
        up3 = e3 > f3 and tr3 >= tmin
        o1, c1, mid1, o2, c2, body2, mid2 = s[O1], s[C1], s[MID1], s[O2], s[C2], s[BODY2], s[MID2]
        long1, bull1, bear1 = s[LONG1] != 0, s[BULL1] != 0, s[BEAR1] != 0
        long2, small2, bull2, bear2 = s[LONG2] != 0, s[SMALL2] != 0, s[BULL2] != 0, s[BEAR2] != 0
        # ---- single bar (trend before b3) ----
        if rng > 0:
            if body <= prm[P_DOJI] * rng and abs(tr1) >= tmin:
                m = _DOJI
            if small3:
                upper = h - top
                lower = bottom - lo
                sb = prm[P_SHADOW] * body
                tiny = prm[P_TINY] * rng
                if lower >= sb and upper <= tiny:
                    if down1:
                        m |= _HAMMER
                    elif up1:
                        m |= _HANGING
                if upper >= sb and lower <= tiny:
                    if down1:
                        m |= _INV_HAMMER
                    elif up1:
                        m |= _SHOOTING
        # ---- two bars (trend before b2) and three bars (trend before b1) ----
        if c > o:
            if bear2:
                if o <= c2 and down2:
                    if c >= o2 and body > body2:
                        m |= _BULL_ENG
                    if long2 and c > mid2 and c < o2:
                        m |= _PIERCING
            elif (bull2 and bull1 and long1 and long2 and long3 and c2 > c1 and c > c2 and o2 >= o1
                  and o2 <= c1 and o >= o2 and o <= c2 and down3):
                m |= _SOLDIERS
            if bear1 and long1 and small2 and s[TOP2] < mid1 and body > body2 and c > mid1 and down3:
                m |= _MORNING
        elif c < o:
            if bull2:
                if o >= c2 and up2:
                    if c <= o2 and body > body2:
                        m |= _BEAR_ENG
                    if long2 and c < mid2 and c > o2:
                        m |= _DARK_CLOUD
            elif (bear2 and bear1 and long1 and long2 and long3 and c2 < c1 and c < c2 and o2 <= o1
                  and o2 >= c1 and o <= o2 and o >= c2 and up3):
                m |= _CROWS
            if bull1 and long1 and small2 and s[BOTTOM2] > mid1 and body > body2 and c < mid1 and up3:
                m |= _EVENING
        if long2:
            if bear2:
                if top < o2 and bottom > c2 and down2:
                    m |= _BULL_HARAMI
            elif bull2 and top < c2 and bottom > o2 and up2:
                m |= _BEAR_HARAMI
        m &= int(prm[P_WANTED])
        if m:
            first = m & -m
            nb = 3 if first & _THREE_BAR else 2 if first & _TWO_BAR else 1
            out = int(prm[P_END])
            s[out], s[out + 1], s[out + 2], s[out + 3], s[out + 4] = m, body, rng, v, s[PV]
            if nb == 1:
                s[out + 5], s[out + 6], s[out + 7] = e1, f1, tr1
            elif nb == 2:
                s[out + 5], s[out + 6], s[out + 7] = e2, f2, tr2
            else:
                s[out + 5], s[out + 6], s[out + 7] = e3, f3, tr3
    # ---- this bar becomes b2, b2 becomes b1 ----
    s[O1], s[C1], s[MID1], s[LONG1], s[BULL1], s[BEAR1] = s[O2], s[C2], s[MID2], s[LONG2], s[BULL2], s[BEAR2]
    s[O2], s[C2], s[BODY2], s[MID2], s[TOP2], s[BOTTOM2] = o, c, body, mid, top, bottom
    s[LONG2] = 1.0 if long3 else 0.0
    s[SMALL2] = 1.0 if small3 else 0.0
    s[BULL2] = 1.0 if c > o else 0.0
    s[BEAR2] = 1.0 if c < o else 0.0
    s[PV] = v
    s[T3] = s[T2]
    s[T2] = s[T1]
    if i >= lb and i >= rlb - 1:
        s[T1] = _trend_in_ranges(s, p, _back(p, lb, ring), _NS + ring, _back(pr, rlb - 1, rring), rlb, rring)
    else:
        s[T1] = 0.0
    return m


@kernel
def _candle_kernel(o, h, lo, c, v, prm, s, hit_at, hit_vals):
    """:func:`candle_step` over whole arrays from the state ``s``; fills ``hit_*``
    for every bar with a wanted pattern and returns their count."""
    hits = 0
    out = int(prm[P_END])
    nh = hit_vals.shape[1]
    for i in range(len(c)):
        if candle_step(s, prm, o[i], h[i], lo[i], c[i], v[i]):
            hit_at[hits] = i
            for j in range(nh):
                hit_vals[hits, j] = s[out + j]
            hits += 1
    return hits


def batch(prm: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
          v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batch form over float64 arrays of valid bars: ``(at, values)``, row ``j``
    of ``values`` holding ``HIT_FIELDS`` of the j-th hit bar ``at[j]``."""
    n = len(c)
    at = np.empty(n, dtype=np.int64)
    vals = np.empty((n, len(HIT_FIELDS)), dtype=np.float64)
    hits = _candle_kernel(o, h, lo, c, v, prm, initial_state(prm), at, vals)
    return at[:hits], vals[:hits]


#: the step, by the name :mod:`detectors.patterns.compiled_state` expects
step = candle_step
