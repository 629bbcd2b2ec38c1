"""The futures consensus as one compiled O(1)-per-bar step, shared by both paths.

:func:`futures_step` advances a float64 state vector by one bar: every indicator,
then the consensus, the long/short run with its hysteresis and the blocks (the
rules are in :mod:`detectors.futures_consensus`). Streaming calls it once per
bar; the batch kernel calls it in a loop over the arrays. It is the same
compiled function on both paths, so they agree bit for bit by construction. A
call from Python costs well under a microsecond; a Python version of this step
cost several. Without numba (``SCANFLOW_NO_JIT=1``) the same source runs as
Python: identical results, only slower.

Indicators (TA-Lib conventions, checked against ``talib`` in the tests): EMA
fast/slow, MACD (line, signal, hist), RSI, StochRSI (k, d), OBV and its EMA,
Supertrend (line, direction), ADX (+DI, -DI), Bollinger middle and width, ATR.

* EMA seeded with the SMA of its first ``period`` values, ``k = 2/(period+1)``,
  ``ema += (x - ema) * k``.
* MACD as ``TA_MACD``: the slow EMA is seeded on bars ``0..slow-1``, the fast EMA
  on bars ``slow-fast..slow-1`` (so both start on the same bar), the signal line
  is an EMA of the MACD line seeded with the SMA of its first ``signal`` values.
* RSI, ATR and ADX/DI with Wilder smoothing, seeded with the simple average
  (sum for DM/TR) of the first ``period`` values exactly like TA-Lib. One
  deliberate difference: TA-Lib treats sums below 1e-8 as zero, which breaks
  low-priced coins (a 1e-7 price move is real on SHIB); here only an exact zero
  is zero, and an RSI with no movement at all is 50 (TA-Lib: 0).
* StochRSI as ``TA_STOCHRSI``: fast %K = 100 * (rsi - min) / (max - min) over
  ``stoch_k`` RSI values (0 when max == min), %D = SMA(%K, ``stoch_d``).
* Bollinger: SMA middle, population standard deviation (``sqrt``), ``bb_dev``
  deviations; width = (upper - lower) / middle. Sums are recomputed over the
  window every bar, oldest value first (no running-sum drift over long series).
* OBV starts at the first bar's volume (TA-Lib).
* Supertrend (not in TA-Lib): ``hl2 +/- mult * ATR(st_period)`` bands that only
  tighten while price stays on their side; the direction turns up when the
  close crosses above the final upper band and down when it crosses below the
  final lower band; it starts up.

State vector: the scalar slots below (integers and flags stored as floats, exact),
then four ring buffers (RSI, %K, closes, Bollinger width) whose sizes depend on
the parameters, then a scratch area where a signalling bar leaves
``HIT_FIELDS`` for the Python code that builds the signal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.indicators._jit import kernel
from detectors.patterns.compiled_state import step_kernel

#: tag stored as the first item of every snapshot; a snapshot with another tag
#: (an older checkpoint layout) is refused instead of being misread
LAYOUT = "futures_consensus/2"

#: scalar state slots, in order (``n`` = bars seen)
SCALARS = (
    "n", "prev_close", "prev_high", "prev_low",
    "ef_sum", "ef", "ef_prev", "es_sum", "es",
    "mf_sum", "mf", "ms_sum", "ms", "sig_sum", "sig", "macd", "hist",
    "gain", "loss", "rsi", "k", "d",
    "obv", "obv_ema_sum", "obv_ema",
    "tr_sum", "atr", "st_tr_sum", "st_atr", "st_up", "st_lo", "st_dir", "st_line",
    "pdm", "mdm", "adx_tr", "dx_sum", "adx", "pdi", "mdi",
    "bb_mid", "bbw",
    "side", "entered", "blocked",
)
(N, PC, PH, PL, EF_SUM, EF, EF_PREV, ES_SUM, ES, MF_SUM, MF, MS_SUM, MS, SIG_SUM, SIG, MACD, HIST,
 GAIN, LOSS, RSI, K, D, OBV, OBV_EMA_SUM, OBV_EMA, TR_SUM, ATR, ST_TR_SUM, ST_ATR, ST_UP, ST_LO,
 ST_DIR, ST_LINE, PDM, MDM, ADX_TR, DX_SUM, ADX, PDI, MDI, BB_MID, BBW, SIDE, ENTERED,
 BLOCKED) = range(len(SCALARS))
_NS = len(SCALARS)

#: what a signalling bar leaves in the scratch area for the signal builder
HIT_FIELDS = ("side", "blocks", "consensus", "v_ema", "v_macd", "v_rsi", "v_stochrsi", "v_obv",
              "v_supertrend", "adx", "bb_width", "bbw_mean", "rsi", "stoch_k", "stoch_d",
              "macd_hist", "atr", "ema_distance_atr", "ema_fast", "ema_fast_prev", "supertrend")

#: block reasons, bit i of the ``blocks`` mask
BLOCKS = ("overextended", "trap_wick", "trap_oversized")

# parameter vector slots (periods as floats: exact)
(P_EF, P_ES, P_MF, P_MS, P_SG, P_RP, P_SK, P_SD, P_OE, P_AP, P_STP, P_DP, P_BP, P_LBK, P_WU,
 P_ST_MULT, P_BB_DEV, P_W_EMA, P_W_MACD, P_W_RSI, P_W_STOCH, P_W_OBV, P_W_SUP, P_WSUM, P_ENTRY,
 P_EXIT, P_OVEREXT, P_TRAP_WICK, P_TRAP_RANGE, P_RSI_W, P_K_W, P_BB_W, P_BBW_W, P_END) = range(34)


def warmup(p: Any) -> int:
    """Bars until every output is defined (the Bollinger-width mean included)."""
    return 1 + max(
        p.ema_slow - 1, p.ema_fast - 1,
        p.macd_slow + p.macd_signal - 2,
        p.rsi_period + p.stoch_k + p.stoch_d - 2,
        2 * p.adx_period - 1,
        p.bb_period + p.bbw_lookback - 2,
        p.atr_period, p.st_period, p.obv_ema - 1,
    )


def params_vector(p: Any, wsum: float) -> np.ndarray:
    """The detector's parameters as the step reads them, with the ring offsets."""
    rsi_w = _NS
    k_w = rsi_w + p.stoch_k
    bb_w = k_w + p.stoch_d
    bbw_w = bb_w + p.bb_period
    end = bbw_w + p.bbw_lookback
    return np.array([
        p.ema_fast, p.ema_slow, p.macd_fast, p.macd_slow, p.macd_signal, p.rsi_period, p.stoch_k,
        p.stoch_d, p.obv_ema, p.atr_period, p.st_period, p.adx_period, p.bb_period, p.bbw_lookback,
        warmup(p), p.st_mult, p.bb_dev, p.w_ema, p.w_macd, p.w_rsi, p.w_stochrsi, p.w_obv,
        p.w_supertrend, wsum, p.entry_threshold, p.exit_threshold, p.overext_atr, p.trap_wick,
        p.trap_range_atr, rsi_w, k_w, bb_w, bbw_w, end,
    ], dtype=np.float64)


def initial_state(prm: np.ndarray) -> np.ndarray:
    """The state before the first bar, scratch area included."""
    s = np.full(int(prm[P_END]) + len(HIT_FIELDS), math.nan)
    s[[N, EF_SUM, ES_SUM, MF_SUM, MS_SUM, SIG_SUM, GAIN, LOSS, OBV_EMA_SUM, TR_SUM, ST_TR_SUM, PDM, MDM,
       ADX_TR, DX_SUM, SIDE, ENTERED, BLOCKED]] = 0.0
    s[ST_DIR] = 1.0
    return s


def state_size(prm: np.ndarray) -> int:
    """Length of the state proper (the scratch area excluded)."""
    return int(prm[P_END])


@kernel
def _ring_sum(s, start, size, oldest):
    """Sum of the ring ``s[start:start + size]``, left to right from its oldest
    slot (a sequential sum, as the streaming definition reads)."""
    t = 0.0
    for j in range(start + oldest, start + size):
        t += s[j]
    for j in range(start, start + oldest):
        t += s[j]
    return t


@step_kernel
def futures_step(s, prm, o, h, lo, c, v):
    """Advance the state ``s`` by one valid bar. Returns 1 when the bar signals
    (``HIT_FIELDS`` are then in ``s[P_END:]``), else 0."""
    return _advance(s, prm, o, h, lo, c, v, False, 0.0, 0.0, 0, 0, 0, 0)


@kernel
def _ring_slots(i, rp, sk, sd, bp, lbk):
    """The slots of bar ``i``'s values in the rings of RSI, %K, closes and widths
    (meaningful once the bar has such a value)."""
    return (i - rp) % sk, (i - rp - sk + 1) % sd, i % bp, (i - bp + 1) % lbk


@kernel
def _advance(s, prm, o, h, lo, c, v, given, given_mid, given_bbw, rsi_slot, k_slot, bb_slot, w_slot):
    """:func:`futures_step`; with ``given`` the bar's Bollinger middle and width
    are ``given_mid``/``given_bbw`` (from :func:`_bollinger`, the same operations
    over whole arrays) instead of being recomputed from the ring, and its slots in
    the four rings are ``*_slot`` (what :func:`_ring_slots` gives, which a loop
    over bars keeps by counting: an integer modulo costs more than most of the
    step's arithmetic)."""
    efp, esp, mfp, msp, sgp = int(prm[P_EF]), int(prm[P_ES]), int(prm[P_MF]), int(prm[P_MS]), int(prm[P_SG])
    rp, sk, sd, oe = int(prm[P_RP]), int(prm[P_SK]), int(prm[P_SD]), int(prm[P_OE])
    ap, stp, dp, bp, lbk = int(prm[P_AP]), int(prm[P_STP]), int(prm[P_DP]), int(prm[P_BP]), int(prm[P_LBK])
    i = int(s[N])
    s[N] = i + 1
    if not given:
        rsi_slot, k_slot, bb_slot, w_slot = _ring_slots(i, rp, sk, sd, bp, lbk)
    pc = s[PC]
    prev_atr = s[ATR]
    # ---- EMA trend pair (SMA seed) ----
    if i >= efp:
        s[EF_PREV] = s[EF]
        s[EF] = (c - s[EF]) * (2.0 / (efp + 1)) + s[EF]
    else:
        s[EF_SUM] += c
        if i == efp - 1:
            s[EF] = s[EF_SUM] / efp
            s[EF_PREV] = s[EF]
    if i >= esp:
        s[ES] = (c - s[ES]) * (2.0 / (esp + 1)) + s[ES]
    else:
        s[ES_SUM] += c
        if i == esp - 1:
            s[ES] = s[ES_SUM] / esp
    # ---- MACD (TA_MACD seeding) ----
    if i >= msp:
        s[MS] = (c - s[MS]) * (2.0 / (msp + 1)) + s[MS]
        s[MF] = (c - s[MF]) * (2.0 / (mfp + 1)) + s[MF]
    else:
        s[MS_SUM] += c
        if i >= msp - mfp:
            s[MF_SUM] += c
        if i == msp - 1:
            s[MS] = s[MS_SUM] / msp
            s[MF] = s[MF_SUM] / mfp
    if i >= msp - 1:
        m = s[MF] - s[MS]
        s[MACD] = m
        nm = i - msp + 1  # MACD values before this one
        if nm >= sgp:
            s[SIG] = (m - s[SIG]) * (2.0 / (sgp + 1)) + s[SIG]
            s[HIST] = m - s[SIG]
        else:
            s[SIG_SUM] += m
            if nm == sgp - 1:
                s[SIG] = s[SIG_SUM] / sgp
                s[HIST] = m - s[SIG]
    if i > 0:
        # ---- RSI (Wilder) ----
        diff = c - pc
        gain, loss = s[GAIN], s[LOSS]
        if i > rp:
            loss *= rp - 1
            gain *= rp - 1
            if diff < 0:
                loss -= diff
            else:
                gain += diff
            loss /= rp
            gain /= rp
        else:
            if diff < 0:
                loss -= diff
            else:
                gain += diff
            if i == rp:
                loss /= rp
                gain /= rp
        s[GAIN], s[LOSS] = gain, loss
        if i >= rp:
            tot = gain + loss
            r = 100.0 * (gain / tot) if tot > 0 else 50.0
            s[RSI] = r
            # ---- StochRSI: rings of the last stoch_k RSI and stoch_d %K values ----
            nr = i - rp  # RSI values before this one
            rw = int(prm[P_RSI_W])
            s[rw + rsi_slot] = r
            if nr >= sk - 1:
                hi_r = r
                lo_r = r
                for j in range(rw, rw + sk):
                    x = s[j]
                    if x > hi_r:
                        hi_r = x
                    if x < lo_r:
                        lo_r = x
                rng = (hi_r - lo_r) / 100.0
                k = (r - lo_r) / rng if rng != 0 else 0.0
                s[K] = k
                nk = nr - (sk - 1)  # %K values before this one
                kw = int(prm[P_K_W])
                pk = k_slot
                s[kw + pk] = k
                if nk >= sd - 1:
                    pk += 1  # the oldest %K: the slot after this one
                    s[D] = _ring_sum(s, kw, sd, pk if pk < sd else 0) / sd
        # ---- true range, ATR and Supertrend ATR ----
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
        if i > stp:
            s[ST_ATR] = (s[ST_ATR] * (stp - 1) + tr) / stp
        else:
            s[ST_TR_SUM] += tr
            if i == stp:
                s[ST_ATR] = s[ST_TR_SUM] / stp
        # ---- ADX / DI (TA-Lib seeding) ----
        diff_p = h - s[PH]
        diff_m = s[PL] - lo
        pdm, mdm, adx_tr = s[PDM], s[MDM], s[ADX_TR]
        if i >= dp:
            mdm -= mdm / dp
            pdm -= pdm / dp
            if diff_m > 0 and diff_p < diff_m:
                mdm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                pdm += diff_p
            adx_tr = adx_tr - adx_tr / dp + tr
            dx = 0.0
            if adx_tr > 0:
                mdi = 100.0 * (mdm / adx_tr)
                pdi = 100.0 * (pdm / adx_tr)
                s[MDI] = mdi
                s[PDI] = pdi
                tot = mdi + pdi
                if tot > 0:
                    dx = 100.0 * (abs(mdi - pdi) / tot)
            if i >= 2 * dp:
                s[ADX] = (s[ADX] * (dp - 1) + dx) / dp
            else:
                s[DX_SUM] += dx
                if i == 2 * dp - 1:
                    s[ADX] = s[DX_SUM] / dp
        else:
            if diff_m > 0 and diff_p < diff_m:
                mdm += diff_m
            elif diff_p > 0 and diff_p > diff_m:
                pdm += diff_p
            adx_tr += tr
        s[PDM], s[MDM], s[ADX_TR] = pdm, mdm, adx_tr
        # ---- OBV ----
        if c > pc:
            s[OBV] += v
        elif c < pc:
            s[OBV] -= v
    else:
        s[OBV] = v
    # ---- OBV EMA ----
    if i >= oe:
        s[OBV_EMA] = (s[OBV] - s[OBV_EMA]) * (2.0 / (oe + 1)) + s[OBV_EMA]
    else:
        s[OBV_EMA_SUM] += s[OBV]
        if i == oe - 1:
            s[OBV_EMA] = s[OBV_EMA_SUM] / oe
    # ---- Supertrend ----
    if i >= stp:
        hl2 = (h + lo) * 0.5
        band = prm[P_ST_MULT] * s[ST_ATR]
        up = hl2 + band
        low_b = hl2 - band
        if i > stp:
            st_up, st_lo = s[ST_UP], s[ST_LO]
            if not (up < st_up or pc > st_up):
                up = st_up
            if not (low_b > st_lo or pc < st_lo):
                low_b = st_lo
            if s[ST_DIR] > 0:
                if c < low_b:
                    s[ST_DIR] = -1.0
            elif c > up:
                s[ST_DIR] = 1.0
        s[ST_UP] = up
        s[ST_LO] = low_b
        s[ST_LINE] = low_b if s[ST_DIR] > 0 else up
    # ---- Bollinger (recomputed over the ring of closes, oldest first) ----
    bw = int(prm[P_BB_W])
    pos = bb_slot
    s[bw + pos] = c
    wpos = 0  # the slot of this bar's width in the width ring
    if i >= bp - 1:
        if given:
            mid = given_mid
            bbw = given_bbw
        else:
            oldest = pos + 1 if pos + 1 < bp else 0
            mid = _ring_sum(s, bw, bp, oldest) / bp
            var = 0.0
            for j in range(bw + oldest, bw + bp):
                x = s[j] - mid
                var += x * x
            for j in range(bw, bw + oldest):
                x = s[j] - mid
                var += x * x
            dev = prm[P_BB_DEV] * math.sqrt(var / bp)
            bbw = (2.0 * dev) / mid
        s[BB_MID] = mid
        s[BBW] = bbw
        wpos = w_slot
        s[int(prm[P_BBW_W]) + wpos] = bbw
    s[PC] = c
    s[PH] = h
    s[PL] = lo
    if i + 1 < int(prm[P_WU]):
        return 0
    # ---- consensus and the long/short run ----
    ef, es = s[EF], s[ES]
    if ef > es:
        v_ema = 1.0 if c > ef else 0.5
    elif ef < es:
        v_ema = -1.0 if c < ef else -0.5
    else:
        v_ema = 0.0
    x = s[HIST]
    v_macd = 1.0 if x > 0 else -1.0 if x < 0 else 0.0
    v_rsi = (s[RSI] - 50.0) / 20.0
    if v_rsi > 1.0:
        v_rsi = 1.0
    elif v_rsi < -1.0:
        v_rsi = -1.0
    x = s[K] - s[D]
    v_st = 1.0 if x > 0 else -1.0 if x < 0 else 0.0
    x = s[OBV] - s[OBV_EMA]
    v_obv = 1.0 if x > 0 else -1.0 if x < 0 else 0.0
    v_sup = 1.0 if s[ST_DIR] > 0 else -1.0
    cons = (prm[P_W_EMA] * v_ema + prm[P_W_MACD] * v_macd + prm[P_W_RSI] * v_rsi + prm[P_W_STOCH] * v_st
            + prm[P_W_OBV] * v_obv + prm[P_W_SUP] * v_sup) / prm[P_WSUM]
    side = s[SIDE]
    if not (side != 0 and cons * side >= prm[P_EXIT]):
        entry = prm[P_ENTRY]
        new = 1.0 if cons >= entry else -1.0 if cons <= -entry else 0.0
        if new != side:
            side = new
            s[SIDE] = side
            s[ENTERED] = 0.0
            s[BLOCKED] = 0.0
    if side == 0 or s[ENTERED] != 0:
        return 0
    # ---- blocks ----
    rng = h - lo
    atr = s[ATR]
    ext = (c - ef) / atr if atr > 0 else 0.0
    blocks = 1 if side * ext > prm[P_OVEREXT] else 0
    wick = (h - (o if o > c else c)) if side > 0 else ((c if o > c else o) - lo)
    if rng > 0 and wick >= prm[P_TRAP_WICK] * rng:
        blocks |= 2
    if prev_atr > 0 and rng >= prm[P_TRAP_RANGE] * prev_atr:
        blocks |= 4
    if blocks:
        if s[BLOCKED] != 0:
            return 0
        s[BLOCKED] = 1.0
    else:
        s[ENTERED] = 1.0
    # ---- the values the signal is built from ----
    wpos += 1  # the oldest width: the slot after this bar's (warm-up ensures the ring is full)
    bbw_mean = _ring_sum(s, int(prm[P_BBW_W]), lbk, wpos if wpos < lbk else 0) / lbk
    out = int(prm[P_END])
    s[out], s[out + 1], s[out + 2], s[out + 3], s[out + 4] = side, blocks, cons, v_ema, v_macd
    s[out + 5], s[out + 6], s[out + 7], s[out + 8], s[out + 9] = v_rsi, v_st, v_obv, v_sup, s[ADX]
    s[out + 10], s[out + 11], s[out + 12], s[out + 13], s[out + 14] = s[BBW], bbw_mean, s[RSI], s[K], s[D]
    s[out + 15], s[out + 16], s[out + 17], s[out + 18], s[out + 19] = s[HIST], atr, ext, ef, s[EF_PREV]
    s[out + 20] = s[ST_LINE]
    return 1


@kernel
def _bollinger(c, bp, dev_mult, mid, bbw):
    """Bollinger middle and width of every bar from ``bp - 1`` on into ``mid`` and
    ``bbw``, bit for bit what the step computes from its ring: per window, the sum
    from 0.0 oldest first, then the squared deviations the same way. Four windows
    go through the loops side by side: the step's sums are chains of dependent
    additions, and four independent chains run in the time of about one."""
    m = len(c) - bp + 1
    i = 0
    while i + 4 <= m:
        a0 = a1 = a2 = a3 = 0.0
        for j in range(i, i + bp):
            a0 += c[j]
            a1 += c[j + 1]
            a2 += c[j + 2]
            a3 += c[j + 3]
        a0 = a0 / bp
        a1 = a1 / bp
        a2 = a2 / bp
        a3 = a3 / bp
        v0 = v1 = v2 = v3 = 0.0
        for j in range(i, i + bp):
            x = c[j] - a0
            v0 += x * x
            x = c[j + 1] - a1
            v1 += x * x
            x = c[j + 2] - a2
            v2 += x * x
            x = c[j + 3] - a3
            v3 += x * x
        o = i + bp - 1
        mid[o], mid[o + 1], mid[o + 2], mid[o + 3] = a0, a1, a2, a3
        bbw[o] = (2.0 * (dev_mult * math.sqrt(v0 / bp))) / a0
        bbw[o + 1] = (2.0 * (dev_mult * math.sqrt(v1 / bp))) / a1
        bbw[o + 2] = (2.0 * (dev_mult * math.sqrt(v2 / bp))) / a2
        bbw[o + 3] = (2.0 * (dev_mult * math.sqrt(v3 / bp))) / a3
        i += 4
    for r in range(i, m):  # the last windows, one at a time
        a = 0.0
        for j in range(r, r + bp):
            a += c[j]
        a = a / bp
        var = 0.0
        for j in range(r, r + bp):
            x = c[j] - a
            var += x * x
        mid[r + bp - 1] = a
        bbw[r + bp - 1] = (2.0 * (dev_mult * math.sqrt(var / bp))) / a


@kernel
def _futures_kernel(o, h, lo, c, v, prm, s, hit_at, hit_vals, trace_slots, trace):
    """:func:`futures_step` over whole arrays from the state ``s`` (Bollinger from
    :func:`_bollinger`): fills ``hit_*`` for every signalling bar and returns their
    count; copies the ``trace_slots`` of the state after every bar into ``trace`` (if any)."""
    hits = 0
    out = int(prm[P_END])
    nh = hit_vals.shape[1]
    nt = trace_slots.shape[0]
    n = len(c)
    mid = np.empty(n)
    bbw = np.empty(n)
    _bollinger(c, int(prm[P_BP]), prm[P_BB_DEV], mid, bbw)
    rp, sk, sd, bp, lbk = int(prm[P_RP]), int(prm[P_SK]), int(prm[P_SD]), int(prm[P_BP]), int(prm[P_LBK])
    rsi_slot, k_slot, bb_slot, w_slot = _ring_slots(int(s[N]), rp, sk, sd, bp, lbk)
    for i in range(n):
        if _advance(s, prm, o[i], h[i], lo[i], c[i], v[i], True, mid[i], bbw[i], rsi_slot, k_slot, bb_slot,
                    w_slot):
            hit_at[hits] = i
            for j in range(nh):
                hit_vals[hits, j] = s[out + j]
            hits += 1
        for j in range(nt):
            trace[i, j] = s[trace_slots[j]]
        rsi_slot = rsi_slot + 1 if rsi_slot + 1 < sk else 0
        k_slot = k_slot + 1 if k_slot + 1 < sd else 0
        bb_slot = bb_slot + 1 if bb_slot + 1 < bp else 0
        w_slot = w_slot + 1 if w_slot + 1 < lbk else 0
    return hits


def batch(prm: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Batch form over float64 arrays of valid bars: ``(at, values)``, row ``j``
    of ``values`` holding ``HIT_FIELDS`` of the j-th signalling bar ``at[j]``."""
    at, vals, _ = _run(prm, o, h, lo, c, v, ())
    return at, vals


def trace(prm: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
          fields: tuple[str, ...]) -> np.ndarray:
    """The ``SCALARS`` named in ``fields`` after every bar (one column each)."""
    return _run(prm, o, h, lo, c, v, fields)[2]


def _run(prm: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
         fields: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(c)
    at = np.empty(n, dtype=np.int64)
    vals = np.empty((n, len(HIT_FIELDS)), dtype=np.float64)
    slots = np.array([SCALARS.index(f) for f in fields], dtype=np.int64)
    traced = np.empty((n if fields else 0, len(fields)), dtype=np.float64)
    hits = _futures_kernel(o, h, lo, c, v, prm, initial_state(prm), at, vals, slots, traced)
    return at[:hits], vals[:hits], traced


#: the step, by the name :mod:`detectors.patterns.compiled_state` expects
step = futures_step
