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
volume is positive; otherwise the score is 0 and nothing is emitted.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Protocol

import numpy as np

from detectors.features.clustering import (
    ClusterArrays,
    ClusterCounts,
    ClusterParams,
    ClusterTracker,
    check_cluster_params,
    cluster_features,
    cluster_metrics,
)
from detectors.features.window import shift


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


def momentum_label(p: MomentumParams, score: float) -> str:
    return "strong" if score >= p.strong_score else "moderate" if score >= p.moderate_score else "weak"


def momentum_features(p: MomentumParams, close: float, volume: float, close_ago: float,
                      vol_mean: float, k: ClusterCounts) -> tuple[float, int, dict[str, Any]]:
    score, sign, change, ratio, confirmed = score_momentum(p, close, volume, close_ago, vol_mean, k)
    features: dict[str, Any] = {
        "momentum_score": score,
        "momentum_strength": momentum_label(p, score),
        "change_pct": change,
        "volume_ratio": ratio,
        "cluster_confirmed": confirmed,
    }
    features.update(cluster_features(p, k))
    return score, sign, features


class MomentumState:
    """Streaming inputs: the cluster tracker plus the last ``change_bars`` closes."""

    __slots__ = ("p", "clusters", "closes")

    def __init__(self, p: MomentumParams) -> None:
        self.p = p
        self.clusters = ClusterTracker(p)
        self.closes: deque[float] = deque(maxlen=p.change_bars)

    def snapshot(self) -> tuple[Any, ...]:
        return (self.clusters.snapshot(), tuple(self.closes))

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.clusters.restore(snap[0])
        self.closes = deque(snap[1], maxlen=self.p.change_bars)

    def update(self, o: float, c: float, v: float) -> tuple[Any, ...] | None:
        """Advance one bar; the scorer's inputs, or None while not ready."""
        k = self.clusters.update(o, c, v)
        closes = self.closes
        out = None
        mean = self.clusters.mean
        if len(closes) == self.p.change_bars and len(self.clusters.vols) == self.p.volume_window \
                and not math.isnan(mean) and mean > 0.0:
            out = (c, v, closes[0], mean, k)
        closes.append(c)
        return out


class MomentumArrays:
    """Batch inputs for every bar."""

    def __init__(self, p: MomentumParams, o: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:
        self.p = p
        self.close, self.volume = c, v
        self.clusters = ClusterArrays(p, o, c, v)
        self.close_ago = shift(c, p.change_bars)
        mean = self.clusters.mean
        with np.errstate(invalid="ignore"):
            self.ready = ~np.isnan(self.close_ago) & (mean > 0.0)
        self.ready[: momentum_warmup(p)] = False

    def inputs(self, i: int) -> tuple[Any, ...]:
        return (float(self.close[i]), float(self.volume[i]), float(self.close_ago[i]),
                float(self.clusters.mean[i]), self.clusters.counts(i))

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(momentum_score, sign) for every bar, equal to :func:`score_momentum`."""
        p = self.p
        dom, formed, strength = self.clusters.metrics(p)
        with np.errstate(invalid="ignore", divide="ignore"):
            change = (self.close / self.close_ago - 1.0) * 100.0
            raw = np.abs(change) * (self.volume / self.clusters.mean)
        sign = np.where(change > 0.0, 1, np.where(change < 0.0, -1, 0))
        confirmed = formed & (sign != 0) & (dom == sign)
        raw = np.where(confirmed, raw * (1.0 + strength), raw)
        score = np.where(self.ready, np.minimum(100.0, raw * p.score_scale), 0.0)
        return score, np.where(self.ready, sign, 0)
