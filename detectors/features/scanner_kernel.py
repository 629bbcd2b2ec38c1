"""The batch form of :class:`detectors.features.scanner.ScannerState`: one compiled
loop over a whole series (numba when available, see
:mod:`detectors.indicators._jit`).

It runs the streaming recurrence bar by bar with the same IEEE operations in the
same order (sequential window sums from ``0.0``, integer counts, one division per
ratio), so every value it writes equals what the streaming state holds after that
bar. Only ``+ - * /``, ``abs`` and comparisons are used: no transcendentals, no
pairwise reductions.

Parameters travel in two small arrays (``IP_*`` / ``FP_*`` index them) to keep the
signature short; :func:`detectors.features.scanner.scanner_series` builds them.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.indicators._jit import kernel

# integer parameters
IP_W, IP_L, IP_F, IP_MIN_CC, IP_CLUSTER, IP_MOMENTUM, IP_CHANGE, IP_REVERSION, IP_STREAK, IP_PEAK, \
    IP_GAIN, IP_REV_WARM, IP_MOM_WARM = range(13)
N_IP = 13
# float parameters
FP_HV_MULT, FP_TREND_RATIO, FP_FT_MIN, FP_SCALE, FP_VOL_MULT, FP_VOL_DECLINE, FP_GAIN_PCT, FP_RSI_OB, \
    FP_RSI_OS = range(9)
N_FP = 9
# columns of the counts matrix (the fields of ClusterCounts, in order)
N_COUNTS = 9


@kernel
def trailing_mean_into(v: np.ndarray, W: int, out: np.ndarray) -> None:
    """``out[t]`` = the sum of ``v[t-W:t]`` added oldest first from 0.0, over ``W``;
    NaN for ``t < W``. Four windows at a time: their sums are independent, so the
    CPU overlaps them, and each keeps its own order."""
    n = len(v)
    for t in range(min(W, n)):
        out[t] = math.nan
    t = W
    while t + 3 < n:
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for k in range(t - W, t):
            s0 += v[k]
            s1 += v[k + 1]
            s2 += v[k + 2]
            s3 += v[k + 3]
        out[t] = s0 / W
        out[t + 1] = s1 / W
        out[t + 2] = s2 / W
        out[t + 3] = s3 / W
        t += 4
    while t < n:
        s = 0.0
        for k in range(t - W, t):
            s += v[k]
        out[t] = s / W
        t += 1


@kernel
def scanner_kernel(o: np.ndarray, c: np.ndarray, v: np.ndarray, rsi: np.ndarray, ip: np.ndarray,
                   fp: np.ndarray, mean: np.ndarray, counts: np.ndarray, trend: np.ndarray,
                   strength: np.ndarray, mscore: np.ndarray, msign: np.ndarray, streak: np.ndarray,
                   peak: np.ndarray, votes: np.ndarray) -> None:
    """Fill the output arrays of the parts the flags ask for, for every bar (see
    ``ScannerSeries`` for their meaning). ``mean`` (:func:`trailing_mean_into` of
    the volumes) and ``rsi`` are inputs; with momentum but without clustering,
    ``trend`` and ``strength`` are inputs too (a clustering computed before with
    the same parameters)."""
    n = len(c)
    W = ip[IP_W]
    L = ip[IP_L]
    F = ip[IP_F]
    min_cc = ip[IP_MIN_CC]
    do_cluster = ip[IP_CLUSTER] != 0
    do_momentum = ip[IP_MOMENTUM] != 0
    change_bars = ip[IP_CHANGE]
    do_reversion = ip[IP_REVERSION] != 0
    streak_min = ip[IP_STREAK]
    P = ip[IP_PEAK]
    gain_bars = ip[IP_GAIN]
    rev_warm = ip[IP_REV_WARM]
    mom_warm = ip[IP_MOM_WARM]
    hv_mult = fp[FP_HV_MULT]
    trend_ratio = fp[FP_TREND_RATIO]
    ft_min = fp[FP_FT_MIN]
    scale = fp[FP_SCALE]
    vol_mult = fp[FP_VOL_MULT]
    vol_decline = fp[FP_VOL_DECLINE]
    gain_pct = fp[FP_GAIN_PCT]
    rsi_ob = fp[FP_RSI_OB]
    rsi_os = fp[FP_RSI_OS]

    nc = n if do_cluster else 0
    hvs = np.zeros(nc, dtype=np.int64)
    starts = np.zeros(nc, dtype=np.int64)
    follow = np.zeros(nc, dtype=np.int64)
    hv_n = np.zeros(3, dtype=np.int64)  # indexed by direction: [_, bull, bear] via 1 / -1
    st_n = np.zeros(3, dtype=np.int64)
    ft = np.zeros(3, dtype=np.int64)
    ft_n = np.zeros(3, dtype=np.int64)
    last_dir = 0
    first = 0
    up = 0
    down = 0
    for t in range(n if do_cluster or do_momentum else 0):
        ct = c[t]
        vt = v[t]
        m = mean[t]
        if do_cluster:
            hv = 0
            if t >= W and vt > 0.0 and ct != o[t] and vt >= hv_mult * m:
                hv = 1 if ct > o[t] else -1
            j = t - F
            if j >= 0 and hvs[j] != 0:  # its F followers have closed
                d = hvs[j]
                cnt = 0
                for k in range(j + 1, t + 1):
                    mv = 1 if c[k] > c[k - 1] else (-1 if c[k] < c[k - 1] else 0)
                    if mv == d:
                        cnt += 1
                follow[j] = cnt
                ft[d] += cnt
                ft_n[d] += 1
            if hv != 0:
                st = 1 if hv != last_dir else 0
                last_dir = hv
                hvs[t] = hv
                starts[t] = st
                hv_n[hv] += 1
                st_n[hv] += st
            e = t - L
            if e >= 0 and hvs[e] != 0:
                d = hvs[e]
                hv_n[d] -= 1
                st_n[d] -= starts[e]
                ft[d] -= follow[e]
                ft_n[d] -= 1
            lo = e + 1
            if first < lo:
                first = lo
            while first <= t and hvs[first] == 0:
                first += 1
            bull_cl = st_n[1]
            bear_cl = st_n[-1]
            if first <= t and starts[first] == 0:
                if hvs[first] == 1:
                    bull_cl += 1
                else:
                    bear_cl += 1
            bh = hv_n[1]
            rh = hv_n[-1]
            counts[t, 0] = bh
            counts[t, 1] = rh
            counts[t, 2] = bull_cl
            counts[t, 3] = bear_cl
            counts[t, 4] = ft[1]
            counts[t, 5] = ft_n[1]
            counts[t, 6] = ft[-1]
            counts[t, 7] = ft_n[-1]
            counts[t, 8] = hv
            # cluster_metrics: trend (dominant sign when formed) and strength
            dom = 0
            n_dom = 0
            fsum = 0
            fcnt = 0
            if bh > rh:
                dom = 1
                n_dom = bh
                fsum = ft[1]
                fcnt = ft_n[1]
            elif rh > bh:
                dom = -1
                n_dom = rh
                fsum = ft[-1]
                fcnt = ft_n[-1]
            tr = 0
            sg = 0.0
            if dom != 0:
                ratio = n_dom / (bh + rh)
                fol = fsum / (fcnt * F) if fcnt != 0 else 0.0
                if ratio >= trend_ratio and fol >= ft_min and n_dom >= min_cc:
                    tr = dom
                sg = 0.5 * (2.0 * ratio - 1.0) + 0.5 * fol
            trend[t] = tr
            strength[t] = sg
        if do_momentum:
            sc = 0.0
            sgn = 0
            if t >= mom_warm and m > 0.0:
                change = (ct / c[t - change_bars] - 1.0) * 100.0
                raw = abs(change) * (vt / m)
                sgn = 1 if change > 0.0 else (-1 if change < 0.0 else 0)
                if sgn != 0 and trend[t] == sgn:
                    raw = raw * (1.0 + strength[t])
                x = raw * scale
                sc = x if x < 100.0 else 100.0
            mscore[t] = sc
            msign[t] = sgn
    if not do_reversion:
        return
    # reversion in a second pass: two short loops compile to faster code than one long one
    for t in range(n):
        ct = c[t]
        vt = v[t]
        m = mean[t]
        if t > 0 and ct > c[t - 1]:
            up += 1
            down = 0
        elif t > 0 and ct < c[t - 1]:
            down += 1
            up = 0
        else:
            up = 0
            down = 0
        streak[t, 0] = up
        streak[t, 1] = down
        if t >= rev_warm:
            pk = v[t - P]
            for k in range(t - P + 1, t):
                if v[k] > pk:
                    pk = v[k]
            peak[t] = pk
            move = (ct / c[t - gain_bars] - 1.0) * 100.0
            bear = 0
            bull = 0
            if up >= streak_min:
                bear += 1
            elif down >= streak_min:
                bull += 1
            if pk >= vol_mult * m and pk > 0.0 and vt <= (1.0 - vol_decline) * pk:
                if move > 0.0:
                    bear += 1
                elif move < 0.0:
                    bull += 1
            if move >= gain_pct:
                bear += 1
            elif move <= -gain_pct:
                bull += 1
            r = rsi[t]
            if r > rsi_ob:
                bear += 1
            elif r < rsi_os:
                bull += 1
            votes[t, 0] = bear
            votes[t, 1] = bull
        else:
            peak[t] = math.nan
            votes[t, 0] = 0
            votes[t, 1] = 0
