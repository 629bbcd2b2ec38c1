"""Enhanced momentum, shared by ``momentum`` and ``balanced_score``.

At bar ``t`` (bars, not minutes):

* ``change_pct = (close[t] / close[t - change_bars] - 1) * 100``;
* ``volume_ratio = volume[t] / mean volume of the volume_window bars before t``;
* ``raw = |change_pct| * volume_ratio``; when clustering confirms (trend formed,
  see :mod:`detectors.features.clustering`, in the direction of the change) it is
  boosted: ``raw * (1 + cluster_strength)``;
* ``momentum_score = min(100, raw * score_scale)``; the strength is ``strong`` at
  ``>= strong_score``, ``moderate`` at ``>= moderate_score``, else ``weak``;
* direction: the sign of ``change_pct`` (neutral when 0).

Ready once ``max(volume_window, change_bars)`` bars precede ``t`` and the mean
volume is positive; otherwise the score is 0 and nothing is emitted. The inputs are
computed per bar by :mod:`detectors.features.scanner`.

Bound used to skip work (exact, not approximate): ``strength <= 1``, so the boosted
score never exceeds ``min(100, |change_pct| * volume_ratio * 2 * score_scale)``
(:func:`momentum_score_bound`); a bar whose bound is below a threshold cannot reach it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from detectors.features.clustering import (
    CLUSTER_KEYS,
    ClusterCounts,
    ClusterParams,
    check_cluster_params,
    cluster_columns,
    cluster_features,
    cluster_metric_arrays,
    cluster_metrics,
)


class MomentumParams(ClusterParams, Protocol):
    change_bars: int
    score_scale: float
    strong_score: float
    moderate_score: float


def check_momentum_params(p: MomentumParams, detector: str) -> None:
    check_cluster_params(p, detector)
    if p.change_bars < 1:
        raise ValueError(f"detector {detector}: change_bars must be >= 1, got {p.change_bars}")
    if p.score_scale <= 0:
        raise ValueError(f"detector {detector}: score_scale must be > 0, got {p.score_scale}")
    if not 0 < p.moderate_score <= p.strong_score <= 100:
        raise ValueError(f"detector {detector}: need 0 < moderate_score <= strong_score <= 100")


def momentum_warmup(p: MomentumParams) -> int:
    return max(p.volume_window, p.change_bars)


def score_momentum(p: MomentumParams, close: float, volume: float, close_ago: float,
                   vol_mean: float, k: ClusterCounts) -> tuple[float, int, float, float, bool]:
    """(momentum_score, sign, change_pct, volume_ratio, cluster-confirmed)."""
    change = (close / close_ago - 1.0) * 100.0
    ratio = volume / vol_mean
    raw = abs(change) * ratio
    sign = 1 if change > 0.0 else -1 if change < 0.0 else 0
    dom, _, _, formed, strength = cluster_metrics(p, k)
    confirmed = formed and sign != 0 and dom == sign
    if confirmed:
        raw = raw * (1.0 + strength)
    return min(100.0, raw * p.score_scale), sign, change, ratio, confirmed


def momentum_score_bound(change: float, ratio: float, scale: float) -> float:
    """An upper bound of :func:`score_momentum`'s score before the ``min(100, .)``:
    ``1 + strength <= 2`` and rounding is monotonic, so ``raw * (1 + strength) * scale
    <= raw * 2 * scale`` holds for the floats too."""
    return abs(change) * ratio * 2.0 * scale


def momentum_label(p: MomentumParams, score: float) -> str:
    return "strong" if score >= p.strong_score else "moderate" if score >= p.moderate_score else "weak"


#: what :func:`score_momentum` and :func:`momentum_features` take after the parameters
MomentumInputs = tuple[float, float, float, float, ClusterCounts]


def momentum_features(p: MomentumParams, close: float, volume: float, close_ago: float,
                      vol_mean: float, k: ClusterCounts,
                      scored: tuple[Any, ...] | None = None) -> tuple[float, int, dict[str, Any]]:
    """(momentum_score, sign, features) of one bar; ``scored``: what
    :func:`score_momentum` returned for these inputs, if known."""
    score, sign, change, ratio, confirmed = scored or score_momentum(p, close, volume, close_ago, vol_mean, k)
    features: dict[str, Any] = {
        "momentum_score": score,
        "momentum_strength": momentum_label(p, score),
        "change_pct": change,
        "volume_ratio": ratio,
        "cluster_confirmed": confirmed,
    }
    features.update(cluster_features(p, k))
    return score, sign, features


#: the keys of :func:`momentum_features`, in its order
MOMENTUM_KEYS = ("momentum_score", "momentum_strength", "change_pct", "volume_ratio", "cluster_confirmed",
                 *CLUSTER_KEYS)


def momentum_columns(p: MomentumParams, close: np.ndarray, volume: np.ndarray, close_ago: np.ndarray,
                     vol_mean: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[list[Any]]]:
    """:func:`momentum_features` of many bars at once (arrays of its inputs, ``counts``
    m x 9): (momentum_score, sign, columns in :data:`MOMENTUM_KEYS` order), the same
    values and Python types, element for element."""
    change = (close / close_ago - 1.0) * 100.0
    ratio = volume / vol_mean
    raw = np.abs(change) * ratio
    sign = np.where(change > 0.0, 1, np.where(change < 0.0, -1, 0))
    metrics = cluster_metric_arrays(p, counts)
    dom, _, _, formed, strength = metrics
    confirmed = formed & (sign != 0) & (dom == sign)
    raw = np.where(confirmed, raw * (1.0 + strength), raw)
    x = raw * p.score_scale
    score = np.where(x < 100.0, x, 100.0)  # min(100.0, x), NaN included
    label = np.where(score >= p.strong_score, "strong", np.where(score >= p.moderate_score, "moderate", "weak"))
    cols = [score.tolist(), label.tolist(), change.tolist(), ratio.tolist(), confirmed.tolist(),
            *cluster_columns(p, counts, metrics)]
    return score, sign, cols
