"""Candle clustering (continuous multi-timeframe scanner): high-volume candles
grouped into same-direction clusters, and the trend they form.

Definitions are in :mod:`detectors.features.clustering`: a high-volume candle has at
least ``hv_mult`` (2x) the mean volume of the ``volume_window`` (20) bars before it;
clusters are runs of same-direction high-volume candles inside the last
``cluster_lookback`` (50) bars; the directional ratio is the dominant side's share;
follow-through is the share of the next ``follow_bars`` (3) closes moving the
candle's way; a trend forms when the ratio is >= ``trend_ratio`` (0.7), follow-through
>= ``follow_through_min`` (0.5) and at least ``min_cluster_candles`` (3) dominant
candles are in the window. ``cluster_strength`` is 0-1.

Signal: ``CLUSTER_TREND`` (bullish or bearish) on the bar where a trend forms - the
previous bar had no formed trend or one in the other direction. ``score =
100 * cluster_strength``; features carry the ratio, follow-through, strength and the
bull/bear cluster and candle counts.

Gaps: windows count bars, not minutes. Warm-up: ``volume_window`` bars.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.clustering import (
    CLUSTER_KEYS,
    ClusterCounts,
    check_cluster_params,
    cluster_columns,
    cluster_features,
    cluster_metric_arrays,
)
from detectors.features.rows import dict_builder
from detectors.features.scanner import ScannerState, scanner_series_of, scanner_spec
from detectors.features.state import SnapshotDetector
from detectors.patterns.exact_state import Feed
from detectors.records import Signal

#: the features dict of one batch signal, from its columns
_FEATURES = dict_builder(CLUSTER_KEYS)
#: the undo snapshot of an attached detector, by the trend before the bar (see _snapshot)
_TREND_UNDO = {d: (None, d) for d in (-1, 0, 1)}


class CandleClusteringParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    volume_window: int = 20
    hv_mult: float = 2.0
    cluster_lookback: int = 50
    follow_bars: int = 3
    trend_ratio: float = 0.7
    follow_through_min: float = 0.5
    min_cluster_candles: int = 3


class CandleClustering(SnapshotDetector):
    name = "candle_clustering"
    version = "1.0.0"
    Params = CandleClusteringParams
    params: CandleClusteringParams

    def _check_params(self) -> None:
        check_cluster_params(self.params, self.name)

    @property
    def warmup(self) -> int:
        return self.params.volume_window

    def _reset(self) -> None:
        if self._own:  # a shared state is its feed's
            self._state = ScannerState(self.params, clustering=True)
        self._prev_trend = 0  # signed direction of the formed trend on the previous bar

    def feed_spec(self) -> tuple[type[Feed], dict[str, Any]]:
        return scanner_spec(self.params, clustering=True)

    def _use_feed(self, feed: Feed) -> None:
        self._state = feed.state

    def _snapshot(self) -> tuple:
        return (self._state.snapshot() if self._own else None, self._prev_trend)

    def _restore(self, snap: tuple) -> None:
        if self._own:
            self._state.restore(snap[0])
        self._prev_trend = snap[1]

    def _signal(self, meta: SeriesMeta | None, open_time: int, close: float, k: ClusterCounts) -> Signal:
        features = cluster_features(self.params, k)
        return self.make_signal(meta, open_time, signal_type="CLUSTER_TREND",
                                direction=features["cluster_direction"],
                                score=100.0 * features["cluster_strength"], price=close,
                                features=features)

    def _advance(self, bar: Bar) -> list[Signal]:
        s = self._state
        if self._own:
            s.update(bar.open, bar.close, bar.volume)
        else:  # in a set, the state to undo is the trend before this bar (no tuple per bar)
            self._undo = _TREND_UNDO[self._prev_trend]
        if not s.changed:  # same counts as the previous bar: same trend, no signal
            return []
        # the formed trend of cluster_metrics(p, s.counts()), from the state's counts
        # (the same integers and operations)
        hv = s.hv_count
        bh = hv[1]
        rh = hv[-1]
        if bh > rh:
            dom, n_dom, ft, ft_n = 1, bh, s.ft[1], s.ft_n[1]
        elif rh > bh:
            dom, n_dom, ft, ft_n = -1, rh, s.ft[-1], s.ft_n[-1]
        else:
            dom = 0
        if dom:
            p = self.params
            follow = ft / (ft_n * p.follow_bars) if ft_n else 0.0
            if not (n_dom / (bh + rh) >= p.trend_ratio and follow >= p.follow_through_min
                    and n_dom >= p.min_cluster_candles):
                dom = 0
        prev, self._prev_trend = self._prev_trend, dom
        if dom == 0 or dom == prev:
            return []
        return [self._signal(self.meta, bar.open_time, bar.close, s.counts())]

    #: ExactStateMixin._shared_step (in a set): _advance keeps the undo itself
    _shared_step = _advance

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        arr = scanner_series_of(p, bars, clustering=True)
        trend = arr.trend
        hits = np.flatnonzero(trend[1:] != trend[:-1]) + 1
        if len(trend) and trend[0] != 0:
            hits = np.concatenate([[0], hits])
        hits = hits[trend[hits] != 0]
        # what _signal computes bar by bar, for every hit at once (the same values and types)
        metrics = cluster_metric_arrays(p, arr.counts_[hits])
        cols = cluster_columns(p, arr.counts_[hits], metrics)
        features = map(_FEATURES, *cols)
        return list(map(self.signal_maker(meta), bars.open_time[hits].tolist(), itertools.repeat("CLUSTER_TREND"), cols[0],
                        (100.0 * metrics[4]).tolist(), arr.close[hits].tolist(), features))
