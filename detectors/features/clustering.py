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

Every quantity above is an integer count or one division of integers. The counts
are computed per bar by :class:`detectors.features.scanner.ScannerState` (streaming)
and :func:`detectors.features.scanner.scanner_series` (batch), bit-identically.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np


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


#: the keys of :func:`cluster_features`, in its order
CLUSTER_KEYS = ("cluster_direction", "directional_ratio", "follow_through", "trend_formed", "cluster_strength",
                "bull_clusters", "bear_clusters", "bull_hv_candles", "bear_hv_candles")
#: direction names indexed by sign (-1 is the last)
DIRECTIONS = np.array(["neutral", "bullish", "bearish"])


def cluster_metric_arrays(p: ClusterParams, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`cluster_metrics` of every row of ``counts`` (m x 9, the
    :class:`ClusterCounts` fields) as arrays (dom, ratio, follow, formed, strength):
    the same IEEE operations on the same integers, so the same floats."""
    bh, rh = counts[:, 0], counts[:, 1]
    bull = bh > rh
    dom = np.where(bull, 1, np.where(rh > bh, -1, 0))
    has = dom != 0
    total = bh + rh
    n_dom = np.where(bull, bh, rh)
    ft = np.where(bull, counts[:, 4], counts[:, 6])
    ft_n = np.where(bull, counts[:, 5], counts[:, 7])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(has, n_dom / total, np.where(total != 0, 0.5, 0.0))
        follow = np.where(has & (ft_n != 0), ft / (ft_n * p.follow_bars), 0.0)
    formed = has & (ratio >= p.trend_ratio) & (follow >= p.follow_through_min) & (n_dom >= p.min_cluster_candles)
    strength = np.where(has, 0.5 * (2.0 * ratio - 1.0) + 0.5 * follow, 0.0)
    return dom, ratio, follow, formed, strength


def cluster_columns(p: ClusterParams, counts: np.ndarray,
                    metrics: tuple[np.ndarray, ...] | None = None) -> list[list[Any]]:
    """:func:`cluster_features` of every row of ``counts`` as columns in
    :data:`CLUSTER_KEYS` order, with the same values and Python types (the batch
    paths zip them into dicts); ``metrics``: :func:`cluster_metric_arrays`, if known."""
    dom, ratio, follow, formed, strength = metrics or cluster_metric_arrays(p, counts)
    return [DIRECTIONS[dom].tolist(), ratio.tolist(), follow.tolist(), formed.tolist(), strength.tolist(),
            counts[:, 2].tolist(), counts[:, 3].tolist(), counts[:, 0].tolist(), counts[:, 1].tolist()]
