"""The trend score as one compiled O(1)-per-bar step, shared by both paths.

:func:`trend_step` advances a float64 state vector by one bar (the rules are in
:mod:`detectors.trend_score`); streaming calls it once per bar, the batch kernel
in a loop over the arrays, so both paths agree bit for bit by construction.
Without numba (``SCANFLOW_NO_JIT=1``) the same source runs as Python.

Indicators: EMA fast/slow (SMA seed, TA-Lib), Wilder ATR (TA-Lib seeding: the
mean of the first ``atr_period`` true ranges, from the second bar on), Heikin
Ashi open/close with its colour streak, and the close ``roc_period`` bars ago
(a ring of the last ``roc_period + 1`` closes).

State vector: the scalar slots below (integers stored as floats, exact), the
ring of closes, then a scratch area where a bar whose trend state changes leaves
``HIT_FIELDS`` for the Python code that builds the signal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.indicators._jit import kernel
from detectors.patterns.compiled_state import step_kernel

#: tag stored as the first item of every snapshot; another tag is refused
LAYOUT = "trend_score/2"

#: scalar state slots, in order (``n`` = bars seen, ``state`` = -1/0/1)
SCALARS = ("n", "ef_sum", "ef", "es_sum", "es", "tr_sum", "atr", "ha_open", "ha_close", "streak", "state")
N, EF_SUM, EF, ES_SUM, ES, TR_SUM, ATR, HA_O, HA_C, STREAK, STATE = range(len(SCALARS))
_NS = len(SCALARS)

#: what a bar whose trend state changes leaves for the signal builder
HIT_FIELDS = ("state", "previous_state", "ha_direction", "ha_streak", "ha_strong", "trend_score", "ema",
              "price", "ha", "momentum", "ha_open", "ha_close")

# parameter vector slots
(P_EF, P_ES, P_AP, P_ROC, P_HA_FULL, P_WU, P_MOM_FULL, P_W_EMA, P_W_PRICE, P_W_HA, P_W_MOM, P_WSUM, P_UP,
 P_HOLD, P_END) = range(15)


def warmup(p: Any) -> int:
    return max(p.ema_slow, p.ema_fast, p.roc_period + 1, p.atr_period + 1)


def params_vector(p: Any, wsum: float) -> np.ndarray:
    return np.array([p.ema_fast, p.ema_slow, p.atr_period, p.roc_period, p.ha_full, warmup(p), p.roc_atr_full,
                     p.w_ema, p.w_price, p.w_ha, p.w_momentum, wsum, p.threshold, p.threshold - p.hysteresis,
                     _NS + p.roc_period + 1], dtype=np.float64)


def initial_state(prm: np.ndarray) -> np.ndarray:
    s = np.full(int(prm[P_END]) + len(HIT_FIELDS), math.nan)
    s[[N, EF_SUM, ES_SUM, TR_SUM, STREAK, STATE]] = 0.0
    return s


def state_size(prm: np.ndarray) -> int:
    """Length of the state proper (the scratch area excluded)."""
    return int(prm[P_END])


@step_kernel
def trend_step(s, prm, o, h, lo, c, v):
    """Advance the state ``s`` by one valid bar (``v``, the volume, is unused). Returns 1 when the trend state
    changes (``HIT_FIELDS`` are then in ``s[P_END:]``), else 0."""
    efp, esp, ap = int(prm[P_EF]), int(prm[P_ES]), int(prm[P_AP])
    ring = 1 + int(prm[P_ROC])  # closes kept
    i = int(s[N])
    s[N] = i + 1
    pos = i % ring  # this bar's slot in the ring of closes
    # ---- EMAs (SMA seed) ----
    if i >= efp:
        s[EF] = (c - s[EF]) * (2.0 / (efp + 1)) + s[EF]
    else:
        s[EF_SUM] += c
        if i == efp - 1:
            s[EF] = s[EF_SUM] / efp
    if i >= esp:
        s[ES] = (c - s[ES]) * (2.0 / (esp + 1)) + s[ES]
    else:
        s[ES_SUM] += c
        if i == esp - 1:
            s[ES] = s[ES_SUM] / esp
    # ---- ATR (Wilder, TA-Lib seeding) and Heikin Ashi open ----
    if i:
        pc = s[_NS + (pos - 1 if pos else ring - 1)]
        tr = h - lo
        t2 = abs(h - pc)
        if t2 > tr:
            tr = t2
        t2 = abs(lo - pc)
        if t2 > tr:
            tr = t2
        if i > ap:
            s[ATR] = (s[ATR] * (ap - 1) + tr) / ap
        else:
            s[TR_SUM] += tr
            if i == ap:
                s[ATR] = s[TR_SUM] / ap
        ha_o = (s[HA_O] + s[HA_C]) * 0.5
    else:
        ha_o = (o + c) * 0.5
    s[_NS + pos] = c
    # ---- Heikin Ashi close, colour and streak ----
    ha_c = (o + h + lo + c) * 0.25
    s[HA_O] = ha_o
    s[HA_C] = ha_c
    streak = s[STREAK]
    if ha_c > ha_o:
        colour = 1.0
        streak = streak + 1.0 if streak > 0 else 1.0
    elif ha_c < ha_o:
        colour = -1.0
        streak = streak - 1.0 if streak < 0 else -1.0
    else:
        colour = 0.0
        streak = 0.0
    s[STREAK] = streak
    if i + 1 < int(prm[P_WU]):
        return 0
    # ---- components and the trend state ----
    ef, es, atr = s[EF], s[ES], s[ATR]
    strong = (colour > 0 and lo >= ha_o) or (colour < 0 and h <= ha_o)
    c_ema = 1.0 if ef > es else -1.0 if ef < es else 0.0
    c_price = 1.0 if c > ef else -1.0 if c < ef else 0.0
    c_ha = streak / prm[P_HA_FULL] + (0.2 * colour if strong else 0.0)
    if c_ha > 1.0:
        c_ha = 1.0
    elif c_ha < -1.0:
        c_ha = -1.0
    if atr > 0:
        old = pos + 1 if pos + 1 < ring else 0  # the oldest close: roc_period ago
        c_mom = (c - s[_NS + old]) / (prm[P_MOM_FULL] * atr)
        if c_mom > 1.0:
            c_mom = 1.0
        elif c_mom < -1.0:
            c_mom = -1.0
    else:
        c_mom = 0.0
    score = 100.0 * (prm[P_W_EMA] * c_ema + prm[P_W_PRICE] * c_price + prm[P_W_HA] * c_ha
                     + prm[P_W_MOM] * c_mom) / prm[P_WSUM]
    prev = s[STATE]
    state = prev
    if score >= prm[P_UP]:
        state = 1.0
    elif score <= -prm[P_UP]:
        state = -1.0
    elif not (prev != 0 and score * prev > prm[P_HOLD]):
        state = 0.0
    if state == prev:
        return 0
    s[STATE] = state
    out = int(prm[P_END])
    s[out], s[out + 1], s[out + 2], s[out + 3], s[out + 4], s[out + 5] = (
        state, prev, colour, streak, 1.0 if strong else 0.0, score)
    s[out + 6], s[out + 7], s[out + 8], s[out + 9], s[out + 10], s[out + 11] = (
        c_ema, c_price, c_ha, c_mom, ha_o, ha_c)
    return 1


@kernel
def _trend_kernel(o, h, lo, c, prm, s, hit_at, hit_vals):
    """:func:`trend_step` over whole arrays from the state ``s``; fills ``hit_*``
    for every bar whose trend state changes and returns their count."""
    hits = 0
    out = int(prm[P_END])
    nh = hit_vals.shape[1]
    for i in range(len(c)):
        if trend_step(s, prm, o[i], h[i], lo[i], c[i], 0.0):
            hit_at[hits] = i
            for j in range(nh):
                hit_vals[hits, j] = s[out + j]
            hits += 1
    return hits


def batch(prm: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
          v: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Batch form over float64 arrays of valid bars: ``(at, values)``, row ``j``
    of ``values`` holding ``HIT_FIELDS`` of the j-th hit bar ``at[j]`` (volume unused)."""
    n = len(c)
    at = np.empty(n, dtype=np.int64)
    vals = np.empty((n, len(HIT_FIELDS)), dtype=np.float64)
    hits = _trend_kernel(o, h, lo, c, prm, initial_state(prm), at, vals)
    return at[:hits], vals[:hits]


#: the step, by the name :mod:`detectors.patterns.compiled_state` expects
step = trend_step
