"""Enhanced momentum (continuous multi-timeframe scanner).

Definition (see :mod:`detectors.features.momentum`): ``|change_pct over
change_bars| x volume_ratio``, boosted by ``(1 + cluster_strength)`` when candle
clustering has formed a trend in the same direction, scaled to ``momentum_score``
0-100 (``x score_scale``, capped) and labelled strong (>= ``strong_score``),
moderate (>= ``moderate_score``) or weak.

Signal: ``MOMENTUM_STRONG`` or ``MOMENTUM_MODERATE`` (direction = sign of the price
change) on every bar whose strength is at least ``min_strength`` ("moderate" by
default; "strong" emits only strong bars). ``score = momentum_score``; features
carry the change, volume ratio, the boost and the clustering factors.

Parameters (defaults): change_bars 5, volume_window 20, score_scale 10,
strong_score 60, moderate_score 30, min_strength "moderate", and the clustering
parameters hv_mult 2.0, cluster_lookback 50, follow_bars 3, trend_ratio 0.7,
follow_through_min 0.5, min_cluster_candles 3.

Gaps: windows count bars, not minutes. Warm-up: ``max(volume_window, change_bars)``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.clustering import DIRECTIONS
from detectors.features.momentum import (
    MOMENTUM_KEYS,
    check_momentum_params,
    momentum_columns,
    momentum_features,
    momentum_warmup,
)
from detectors.features.rows import dict_builder
from detectors.features.scanner import ScannerState, scanner_series_of, scanner_spec
from detectors.features.state import SnapshotDetector
from detectors.patterns.exact_state import Feed
from detectors.records import Signal

#: the features dict of one batch signal, from its columns
_FEATURES = dict_builder(MOMENTUM_KEYS)


class MomentumParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    change_bars: int = 5
    volume_window: int = 20
    score_scale: float = 10.0
    strong_score: float = 60.0
    moderate_score: float = 30.0
    min_strength: Literal["strong", "moderate"] = "moderate"
    hv_mult: float = 2.0
    cluster_lookback: int = 50
    follow_bars: int = 3
    trend_ratio: float = 0.7
    follow_through_min: float = 0.5
    min_cluster_candles: int = 3


class Momentum(SnapshotDetector):
    name = "momentum"
    version = "1.0.0"
    Params = MomentumParams
    keeps_own_state = False  # in a set: everything it reads is the feed's
    params: MomentumParams

    def _check_params(self) -> None:
        check_momentum_params(self.params, self.name)
        p = self.params
        self._threshold = p.strong_score if p.min_strength == "strong" else p.moderate_score
        self._warm = momentum_warmup(p)
        self._ago = -p.change_bars - 1
        self._scale = p.score_scale

    @property
    def warmup(self) -> int:
        return momentum_warmup(self.params)

    def _reset(self) -> None:
        if self._own:  # a shared state is its feed's
            self._state = ScannerState(self.params, momentum=True)

    def feed_spec(self) -> tuple[type[Feed], dict[str, Any]]:
        return scanner_spec(self.params, momentum=True)

    def _use_feed(self, feed: Feed) -> None:
        self._state = feed.state

    def _snapshot(self) -> tuple:
        return self._state.snapshot() if self._own else ()

    def _restore(self, snap: tuple) -> None:
        if self._own:
            self._state.restore(snap)

    def _emit(self, meta: SeriesMeta | None, open_time: int, inputs: tuple) -> Signal | None:
        score, sign, features = momentum_features(self.params, *inputs)
        if score < self._threshold or sign == 0:
            return None
        kind = "MOMENTUM_STRONG" if features["momentum_strength"] == "strong" else "MOMENTUM_MODERATE"
        return self.make_signal(meta, open_time, signal_type=kind,
                                direction="bullish" if sign > 0 else "bearish", score=score,
                                price=inputs[0], features=features)

    def _advance(self, bar: Bar) -> list[Signal]:
        s = self._state
        c = bar.close
        if self._own:
            s.update(bar.open, c, bar.volume)
        if s.t < self._warm or not s.mean > 0.0:  # not s.momentum_ready()
            return []
        change = (c / s.closes[self._ago] - 1.0) * 100.0  # s.close_ago(change_bars)
        # momentum_score_bound(change, volume / mean, score_scale), inlined
        if abs(change) * (bar.volume / s.mean) * 2.0 * self._scale < self._threshold:
            return []  # even the largest clustering boost could not reach the threshold
        sig = self._emit(self.meta, bar.open_time, s.momentum_inputs())
        return [] if sig is None else [sig]

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        arr = scanner_series_of(p, bars, momentum=True)
        hits = np.flatnonzero((arr.mscore >= self._threshold) & (arr.msign != 0))
        c = arr.close
        # what _emit computes bar by bar, for every hit at once (the same values and types)
        score, sign, cols = momentum_columns(p, c[hits], arr.volume[hits], c[hits - p.change_bars],
                                             arr.mean[hits], arr.counts_[hits])
        kinds = np.where(score >= p.strong_score, "MOMENTUM_STRONG", "MOMENTUM_MODERATE").tolist()
        features = map(_FEATURES, *cols)
        return list(map(self.signal_maker(meta), bars.open_time[hits].tolist(), kinds,
                        DIRECTIONS[sign].tolist(), cols[0], c[hits].tolist(), features))
