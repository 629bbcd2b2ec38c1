"""High-volume candle clustering, shared by ``candle_clustering``, ``momentum`` and
``balanced_score``.

Definitions at bar ``t`` (bars, not minutes):

* a candle is **high-volume** when ``volume > 0``, ``volume >= hv_mult * mean``
  (mean volume of the ``volume_window`` bars before it) and it has a body
  (``close != open``); its direction is bullish (close > open) or bearish;
* the **window** is the last ``cluster_lookback`` bars ending at ``t``;
* a **cluster** is a maximal run of consecutive high-volume candles (consecutive in
  the sequence of high-volume candles) with the same direction; counts are of the
  runs that have at least one candle in the window;
* the **dominant** direction has more high-volume candles in the window (none on a
  tie); ``directional_ratio = dominant / all`` high-volume candles (0 if none);
* **follow-through** of a high-volume candle: the share of the next ``follow_bars``
  candles whose close moves its way (close above / below the previous close);
  ``follow_through`` averages it over the dominant candles of the window whose
  ``follow_bars`` followers have closed (0 if none);
* **trend formation**: ``directional_ratio >= trend_ratio`` and ``follow_through >=
  follow_through_min`` and at least ``min_cluster_candles`` dominant candles;
* ``cluster_strength = 0.5 * (2 * directional_ratio - 1) + 0.5 * follow_through``
  (0-1; 0 when there is no dominant direction).

Every quantity above is an integer count or one division of integers, so the
streaming tracker and the vectorized batch agree exactly.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple, Protocol

import numpy as np

from detectors.features.window import seq_sum, shift, trailing_mean


class ClusterParams(Protocol):
    volume_window: int
    hv_mult: float
    cluster_lookback: int
    follow_bars: int
    trend_ratio: float
    follow_through_min: float
    min_cluster_candles: int


def check_cluster_params(p: ClusterParams, detector: str) -> None:
    def bad(msg: str) -> ValueError:
        return ValueError(f"detector {detector}: {msg}")

    if p.volume_window < 2:
        raise bad(f"volume_window must be >= 2, got {p.volume_window}")
    if p.hv_mult <= 0:
        raise bad(f"hv_mult must be > 0, got {p.hv_mult}")
    if p.follow_bars < 1:
        raise bad(f"follow_bars must be >= 1, got {p.follow_bars}")
    if p.cluster_lookback <= p.follow_bars:
        raise bad(f"cluster_lookback must exceed follow_bars, got {p.cluster_lookback}")
    if not 0.5 <= p.trend_ratio <= 1.0:
        raise bad(f"trend_ratio must be in [0.5, 1], got {p.trend_ratio}")
    if not 0.0 <= p.follow_through_min <= 1.0:
        raise bad(f"follow_through_min must be in [0, 1], got {p.follow_through_min}")
    if p.min_cluster_candles < 1:
        raise bad(f"min_cluster_candles must be >= 1, got {p.min_cluster_candles}")


class ClusterCounts(NamedTuple):
    """Integer state of one bar; everything else derives from it."""

    bull_hv: int
    bear_hv: int
    bull_clusters: int
    bear_clusters: int
    bull_ft: int  # followers that moved the candle's way, summed over finished candles
    bull_ft_n: int  # finished bullish candles
    bear_ft: int
    bear_ft_n: int
    hv: int  # this bar: +1 bullish high-volume, -1 bearish, 0 not high-volume


def cluster_metrics(p: ClusterParams, k: ClusterCounts) -> tuple[int, float, float, bool, float]:
    """(dominant sign, directional_ratio, follow_through, trend_formed, strength)."""
    total = k.bull_hv + k.bear_hv
    if k.bull_hv > k.bear_hv:
        dom, n_dom, ft, ft_n = 1, k.bull_hv, k.bull_ft, k.bull_ft_n
    elif k.bear_hv > k.bull_hv:
        dom, n_dom, ft, ft_n = -1, k.bear_hv, k.bear_ft, k.bear_ft_n
    else:
        return 0, (0.5 if total else 0.0), 0.0, False, 0.0
    ratio = n_dom / total
    follow = ft / (ft_n * p.follow_bars) if ft_n else 0.0
    formed = ratio >= p.trend_ratio and follow >= p.follow_through_min and n_dom >= p.min_cluster_candles
    strength = 0.5 * (2.0 * ratio - 1.0) + 0.5 * follow
    return dom, ratio, follow, formed, strength


def cluster_features(p: ClusterParams, k: ClusterCounts) -> dict[str, Any]:
    dom, ratio, follow, formed, strength = cluster_metrics(p, k)
    return {
        "cluster_direction": "bullish" if dom > 0 else "bearish" if dom < 0 else "neutral",
        "directional_ratio": ratio,
        "follow_through": follow,
        "trend_formed": formed,
        "cluster_strength": strength,
        "bull_clusters": k.bull_clusters,
        "bear_clusters": k.bear_clusters,
        "bull_hv_candles": k.bull_hv,
        "bear_hv_candles": k.bear_hv,
    }


class ClusterTracker:
    """Streaming clustering state: O(1) amortized per bar, memory bounded by
    ``volume_window + cluster_lookback`` entries."""

    __slots__ = ("p", "t", "vols", "mean", "prev_close", "last_hv_dir", "window", "pending",
                 "finished", "hv_count", "starts", "ft", "ft_n")

    def __init__(self, p: ClusterParams) -> None:
        self.p = p
        self.t = -1
        self.vols: deque[float] = deque(maxlen=p.volume_window)
        #: mean volume of the ``volume_window`` bars before the last bar (NaN in warm-up)
        self.mean = math.nan
        self.prev_close: float | None = None
        self.last_hv_dir = 0
        self.window: deque[tuple[int, int, bool]] = deque()  # (index, dir, starts a run)
        self.pending: deque[list[int]] = deque()  # [index, dir, followers so far]
        self.finished: deque[tuple[int, int, int]] = deque()  # (index, dir, followers)
        self.hv_count = [0, 0, 0]  # indexed by dir: [_, bull, bear] via dir (1 / -1)
        self.starts = [0, 0, 0]
        self.ft = [0, 0, 0]
        self.ft_n = [0, 0, 0]

    def snapshot(self) -> tuple[Any, ...]:
        return (self.t, tuple(self.vols), self.mean, self.prev_close, self.last_hv_dir, tuple(self.window),
                tuple(tuple(x) for x in self.pending), tuple(self.finished), tuple(self.hv_count),
                tuple(self.starts), tuple(self.ft), tuple(self.ft_n))

    def restore(self, s: tuple[Any, ...]) -> None:
        self.t = s[0]
        self.vols = deque(s[1], maxlen=self.p.volume_window)
        self.mean = s[2]
        self.prev_close = s[3]
        self.last_hv_dir = s[4]
        self.window = deque(tuple(x) for x in s[5])
        self.pending = deque(list(x) for x in s[6])
        self.finished = deque(tuple(x) for x in s[7])
        self.hv_count, self.starts, self.ft, self.ft_n = (list(x) for x in s[8:12])

    def update(self, o: float, c: float, v: float) -> ClusterCounts:
        p = self.p
        t = self.t = self.t + 1
        vols = self.vols
        hv = 0
        if len(vols) == p.volume_window:
            mean = self.mean = seq_sum(vols) / p.volume_window
            if v > 0.0 and c != o and v >= p.hv_mult * mean:
                hv = 1 if c > o else -1
        vols.append(v)
        prev = self.prev_close
        move = 0 if prev is None else (1 if c > prev else -1 if c < prev else 0)
        self.prev_close = c
        # followers of earlier high-volume candles
        if move:
            for item in self.pending:
                if item[1] == move:
                    item[2] += 1
        while self.pending and t - self.pending[0][0] >= p.follow_bars:
            j, d, cnt = self.pending.popleft()
            self.finished.append((j, d, cnt))
            self.ft[d] += cnt
            self.ft_n[d] += 1
        if hv:
            starts = hv != self.last_hv_dir
            self.last_hv_dir = hv
            self.window.append((t, hv, starts))
            self.hv_count[hv] += 1
            self.starts[hv] += starts
            self.pending.append([t, hv, 0])
        # drop what left the window (index <= t - lookback)
        edge = t - p.cluster_lookback
        while self.window and self.window[0][0] <= edge:
            _, d, s = self.window.popleft()
            self.hv_count[d] -= 1
            self.starts[d] -= s
        while self.finished and self.finished[0][0] <= edge:
            _, d, cnt = self.finished.popleft()
            self.ft[d] -= cnt
            self.ft_n[d] -= 1
        clusters = [0, self.starts[1], self.starts[-1]]
        if self.window and not self.window[0][2]:
            clusters[self.window[0][1]] += 1
        return ClusterCounts(self.hv_count[1], self.hv_count[-1], clusters[1], clusters[-1],
                             self.ft[1], self.ft_n[1], self.ft[-1], self.ft_n[-1], hv)


class ClusterArrays:
    """Batch :class:`ClusterTracker`: the same integer counts for every bar."""

    def __init__(self, p: ClusterParams, o: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:
        n = len(c)
        L, F = p.cluster_lookback, p.follow_bars
        mean = self.mean = trailing_mean(v, p.volume_window)
        with np.errstate(invalid="ignore"):
            is_hv = (v > 0.0) & (c != o) & (v >= p.hv_mult * mean)
        is_hv[: p.volume_window] = False
        d = np.where(c > o, 1, -1).astype(np.int64)
        hv = np.where(is_hv, d, 0)
        prev = shift(c, 1)
        with np.errstate(invalid="ignore"):
            move = np.where(c > prev, 1, np.where(c < prev, -1, 0)).astype(np.int64)
        # followers: among moves j+1..j+F, those equal to dir j (only complete ones matter)
        follow = np.zeros(n, dtype=np.int64)
        for k in range(1, F + 1):
            follow[: n - k] += move[k:] == hv[: n - k]
        idx = np.arange(n)
        # run starts: previous high-volume candle (anywhere before) had another direction
        last_hv = np.maximum.accumulate(np.where(is_hv, idx, -1))
        prev_hv = shift(last_hv, 1, -1).astype(np.int64)
        prev_dir = np.where(prev_hv >= 0, hv[np.maximum(prev_hv, 0)], 0)
        starts = is_hv & (prev_dir != hv)

        def window_sum(x: np.ndarray, lag: int = 0) -> np.ndarray:
            """sum of x[j] for j in (t - L, t - lag]."""
            cs = np.concatenate([[0], np.cumsum(x)])
            hi = np.clip(idx - lag + 1, 0, n)
            lo = np.clip(idx - L + 1, 0, n)
            return np.where(hi > lo, cs[hi] - cs[lo], 0)

        bull, bear = hv == 1, hv == -1
        self.hv = hv
        self.bull_hv = window_sum(bull.astype(np.int64))
        self.bear_hv = window_sum(bear.astype(np.int64))
        self.bull_clusters = window_sum((starts & bull).astype(np.int64))
        self.bear_clusters = window_sum((starts & bear).astype(np.int64))
        # first high-volume candle inside the window, if its run started earlier
        nxt = np.minimum.accumulate(np.where(is_hv, idx, n)[::-1])[::-1]
        first = nxt[np.clip(idx - L + 1, 0, n - 1)]
        inside = first <= idx
        f = np.minimum(first, n - 1)
        carry = inside & ~starts[f]
        self.bull_clusters += carry & (hv[f] == 1)
        self.bear_clusters += carry & (hv[f] == -1)
        self.bull_ft = window_sum(np.where(bull, follow, 0), F)
        self.bull_ft_n = window_sum(bull.astype(np.int64), F)
        self.bear_ft = window_sum(np.where(bear, follow, 0), F)
        self.bear_ft_n = window_sum(bear.astype(np.int64), F)

    def counts(self, i: int) -> ClusterCounts:
        return ClusterCounts(int(self.bull_hv[i]), int(self.bear_hv[i]), int(self.bull_clusters[i]),
                             int(self.bear_clusters[i]), int(self.bull_ft[i]), int(self.bull_ft_n[i]),
                             int(self.bear_ft[i]), int(self.bear_ft_n[i]), int(self.hv[i]))

    def metrics(self, p: ClusterParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectorized (dominant sign, trend_formed, strength) equal to
        :func:`cluster_metrics` bar by bar."""
        bh, rh = self.bull_hv, self.bear_hv
        total = bh + rh
        dom = np.sign(bh - rh)
        n_dom = np.where(dom > 0, bh, rh)
        ft = np.where(dom > 0, self.bull_ft, self.bear_ft)
        ft_n = np.where(dom > 0, self.bull_ft_n, self.bear_ft_n)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(dom != 0, n_dom / np.maximum(total, 1), 0.0)
            follow = np.where(ft_n > 0, ft / np.maximum(ft_n * p.follow_bars, 1), 0.0)
        formed = (dom != 0) & (ratio >= p.trend_ratio) & (follow >= p.follow_through_min) & (n_dom >= p.min_cluster_candles)
        strength = np.where(dom != 0, 0.5 * (2.0 * ratio - 1.0) + 0.5 * follow, 0.0)
        return dom, formed, strength
