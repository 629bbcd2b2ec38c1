"""Balanced score (continuous multi-timeframe scanner): momentum vs mean reversion.

Per bar it computes the enhanced momentum (``momentum_score`` 0-100 and its
direction, :mod:`detectors.features.momentum`, including the clustering boost) and
the mean-reversion factors (``reversion_score`` 0-100 and its direction,
:mod:`detectors.features.reversion`), then:

``combined_signed = momentum_weight * m + (1 - momentum_weight) * r`` where ``m`` and
``r`` are the scores signed by direction (+ bullish, - bearish); when both agree this
is exactly ``momentum x 0.6 + reversion x 0.4``; ``combined = |combined_signed|``.

Classification, first match wins:

1. ``reversion_score >= reversion_candidate`` (75) with a direction:
   ``REVERSION_BULLISH`` / ``REVERSION_BEARISH``, score = reversion score
   (exhaustion overrides momentum: the move that built it is what is exhausted);
2. ``momentum_score >= strong_score`` (60) with a direction and
   ``reversion_score <= momentum_max_reversion`` (25): ``MOMENTUM_BUY`` /
   ``MOMENTUM_SELL``, score = momentum score;
3. ``combined > strong_combined`` (60): ``STRONG_BUY`` / ``STRONG_SELL``;
   ``combined >= weak_combined`` (40): ``WEAK_BUY`` / ``WEAK_SELL``; score = combined;
4. otherwise ``NEUTRAL`` (emitted only with ``emit_neutral=True``).

Worked example (a test): an 18% rise over 5 green candles, volume 2.3x its average
and now declining, RSI 76 -> ``REVERSION_BEARISH`` with reversion score 100.

Parameters: ``momentum_weight`` 0.6 (the bias), ``reversion_candidate`` 75,
``momentum_max_reversion`` 25, ``strong_combined`` 60, ``weak_combined`` 40,
``emit_neutral`` false, plus every parameter of ``mean_reversion`` and ``momentum``
(same names and defaults; ``volume_window`` is shared).

Gaps: windows count bars, not minutes. Warm-up: the larger of both warm-ups.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.clustering import DIRECTIONS
from detectors.features.momentum import (
    MOMENTUM_KEYS,
    MomentumInputs,
    check_momentum_params,
    momentum_columns,
    momentum_features,
    momentum_warmup,
    score_momentum,
)
from detectors.features.reversion import (
    REVERSION_KEYS,
    ReversionInputs,
    check_reversion_params,
    reversion_columns,
    reversion_features,
    reversion_warmup,
    score_reversion,
)
from detectors.features.rows import dict_builder
from detectors.features.scanner import ScannerState, scanner_series_of, scanner_spec
from detectors.features.state import SnapshotDetector
from detectors.patterns.exact_state import Feed
from detectors.records import Signal


class BalancedScoreParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    momentum_weight: float = 0.6
    reversion_candidate: float = 75.0
    momentum_max_reversion: float = 25.0
    strong_combined: float = 60.0
    weak_combined: float = 40.0
    emit_neutral: bool = False
    # mean reversion
    streak_min: int = 4
    volume_window: int = 20
    peak_lookback: int = 5
    volume_mult: float = 1.5
    volume_decline: float = 0.10
    gain_bars: int = 5
    gain_pct: float = 15.0
    rsi_period: int = 14
    rsi_overbought: float = 70.0
    rsi_oversold: float = 30.0
    # momentum and clustering
    change_bars: int = 5
    score_scale: float = 10.0
    strong_score: float = 60.0
    moderate_score: float = 30.0
    hv_mult: float = 2.0
    cluster_lookback: int = 50
    follow_bars: int = 3
    trend_ratio: float = 0.7
    follow_through_min: float = 0.5
    min_cluster_candles: int = 3


_BUY_SELL = {1: "BUY", -1: "SELL"}
_DIRECTION = {1: "bullish", -1: "bearish", 0: "neutral"}
# batch: signal types by (rule of _classify, sign + 1), direction names by sign
_KINDS = np.array([["REVERSION_BEARISH", "", "REVERSION_BULLISH"], ["MOMENTUM_SELL", "", "MOMENTUM_BUY"],
                   ["STRONG_SELL", "", "STRONG_BUY"], ["WEAK_SELL", "", "WEAK_BUY"], ["", "NEUTRAL", ""]])
#: the reversion features _emit keeps besides the momentum ones (its ``update`` order)
_REVERSION_FEATURES = tuple(k for k in REVERSION_KEYS if k not in ("direction", "volume_ratio"))
_FEATURE_KEYS = ("combined_score", "momentum_direction", "reversion_direction", *MOMENTUM_KEYS,
                 *_REVERSION_FEATURES, "peak_volume_ratio")
_FEATURES = dict_builder(_FEATURE_KEYS)


class BalancedScore(SnapshotDetector):
    name = "balanced_score"
    version = "1.0.0"
    Params = BalancedScoreParams
    keeps_own_state = False  # in a set: everything it reads is the feed's
    params: BalancedScoreParams

    def _check_params(self) -> None:
        p = self.params
        check_reversion_params(p, self.name)
        check_momentum_params(p, self.name)
        if not 0.0 <= p.momentum_weight <= 1.0:
            raise ValueError(f"detector {self.name}: momentum_weight must be in [0, 1], got {p.momentum_weight}")
        if not 0 < p.weak_combined <= p.strong_combined <= 100:
            raise ValueError(f"detector {self.name}: need 0 < weak_combined <= strong_combined <= 100")
        # the thresholds of _advance's bounds (None: every ready bar is evaluated)
        self._skip = None if p.emit_neutral else (
            p.streak_min, p.gain_pct, -p.gain_pct, p.rsi_overbought, p.rsi_oversold, -p.gain_bars - 1,
            -p.change_bars - 1, p.reversion_candidate, p.score_scale, p.strong_score, p.momentum_weight,
            1.0 - p.momentum_weight, p.weak_combined)

    @property
    def warmup(self) -> int:
        return max(reversion_warmup(self.params), momentum_warmup(self.params))

    def _reset(self) -> None:
        if self._own:  # a shared state is its feed's
            self._state = ScannerState(self.params, momentum=True, reversion=True)
        self._warm = self.warmup

    def feed_spec(self) -> tuple[type[Feed], dict[str, Any]]:
        return scanner_spec(self.params, momentum=True, reversion=True)

    def _use_feed(self, feed: Feed) -> None:
        self._state = feed.state

    def _snapshot(self) -> tuple:
        return self._state.snapshot() if self._own else ()

    def _restore(self, snap: tuple) -> None:
        if self._own:
            self._state.restore(snap)

    def _classify(self, ms: float, msign: int, rs: float, rsign: int) -> tuple[str, int, float, float]:
        """(signal_type, sign, score, combined) - the one rule both paths use."""
        p = self.params
        w = p.momentum_weight
        signed = w * (ms * msign) + (1.0 - w) * (rs * rsign)
        combined = abs(signed)
        csign = 1 if signed > 0.0 else -1 if signed < 0.0 else 0
        if rs >= p.reversion_candidate and rsign != 0:
            return ("REVERSION_BULLISH" if rsign > 0 else "REVERSION_BEARISH"), rsign, rs, combined
        if ms >= p.strong_score and msign != 0 and rs <= p.momentum_max_reversion:
            return "MOMENTUM_" + _BUY_SELL[msign], msign, ms, combined
        if csign != 0 and combined > p.strong_combined:
            return "STRONG_" + _BUY_SELL[csign], csign, combined, combined
        if csign != 0 and combined >= p.weak_combined:
            return "WEAK_" + _BUY_SELL[csign], csign, combined, combined
        return "NEUTRAL", 0, combined, combined

    def _emit(self, meta: SeriesMeta | None, open_time: int, rin: ReversionInputs,
              min_: MomentumInputs) -> Signal | None:
        p = self.params
        votes = score_reversion(p, *rin)
        bear, bull = votes[0], votes[1]
        scored = score_momentum(p, *min_)
        ms, msign = scored[0], scored[1]
        rsign = 1 if bull > bear else -1 if bear > bull else 0
        kind, sign, score, combined = self._classify(ms, msign, 25.0 * max(bear, bull), rsign)
        if kind == "NEUTRAL" and not p.emit_neutral:
            return None
        _, rdir, rfeat = reversion_features(p, *rin, votes=votes)
        _, _, mfeat = momentum_features(p, *min_, scored=scored)
        features: dict[str, Any] = {"combined_score": combined, "momentum_direction": _DIRECTION[msign],
                                    "reversion_direction": rdir}
        features.update(mfeat)
        features.update({k: v for k, v in rfeat.items() if k != "direction"})
        features["volume_ratio"] = mfeat["volume_ratio"]
        features["peak_volume_ratio"] = rfeat["volume_ratio"]
        return self.make_signal(meta, open_time, signal_type=kind, direction=_DIRECTION[sign],
                                score=score, price=rin[0], features=features)

    def _advance(self, bar: Bar) -> list[Signal]:
        s = self._state
        c = bar.close
        if self._own:
            s.update(bar.open, c, bar.volume)
        if s.t < self._warm or not s.mean > 0.0:
            return []
        rin = None
        if self._skip is not None:
            # skip bars where nothing but NEUTRAL is reachable, from exact upper bounds of
            # both scores (``reversion_votes_bound``, ``momentum_score_bound``, inlined);
            # ``combined <= w * m_ub + (1 - w) * r_ub`` holds in floats too, rounding
            # being monotonic
            (streak_min, gain, loss, ob, os_, gain_ago, change_ago, candidate, scale, strong, w, w_rev,
             weak) = self._skip
            closes = s.closes
            move_pct = (c / closes[gain_ago] - 1.0) * 100.0
            r = s.rsi_value
            bear = (s.up >= streak_min) + (move_pct >= gain) + (r > ob)
            bull = (s.down >= streak_min) + (move_pct <= loss) + (r < os_)
            r_ub = 25.0 * ((bear if bear > bull else bull) + 1)
            if r_ub >= candidate:  # tighten it: the exact votes
                rin = s.reversion_inputs()
                bear, bull = score_reversion(self.params, *rin)[:2]
                r_ub = 25.0 * (bear if bear > bull else bull)
            if r_ub < candidate:
                change = (c / closes[change_ago] - 1.0) * 100.0
                m_ub = abs(change) * (bar.volume / s.mean) * 2.0 * scale  # momentum_score_bound
                if m_ub > 100.0:
                    m_ub = 100.0
                if m_ub < strong and w * m_ub + w_rev * r_ub < weak:
                    return []
        sig = self._emit(self.meta, bar.open_time, rin or s.reversion_inputs(), s.momentum_inputs())
        return [] if sig is None else [sig]

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        arr = scanner_series_of(p, bars, momentum=True, reversion=True)
        hits = np.flatnonzero(arr.rev_ready & arr.mom_ready)
        # _classify of every ready bar, from the compiled scores (equal to score_momentum's
        # and score_reversion's)
        rs, rsign = (a[hits] for a in arr.reversion_scores())
        ms, msign = arr.mscore[hits], arr.msign[hits]
        w = p.momentum_weight
        signed = w * (ms * msign) + (1.0 - w) * (rs * rsign)
        combined = np.abs(signed)
        csign = np.sign(signed).astype(np.int64)
        rev = (rs >= p.reversion_candidate) & (rsign != 0)
        mom = ~rev & (ms >= p.strong_score) & (msign != 0) & (rs <= p.momentum_max_reversion)
        rest = ~rev & ~mom & (csign != 0)
        strong = rest & (combined > p.strong_combined)
        weak = rest & ~strong & (combined >= p.weak_combined)
        kind = np.select([rev, mom, strong, weak], [0, 1, 2, 3], 4)  # row of _KINDS; 4: NEUTRAL
        sign = np.select([rev, mom, strong | weak], [rsign, msign, csign], 0)
        score = np.select([rev, mom], [rs, ms], combined)
        if not p.emit_neutral:
            keep = kind != 4
            hits, kind, sign, score, combined, msign = (
                a[keep] for a in (hits, kind, sign, score, combined, msign))
        # the features _emit builds, for those bars at once (the same values and types)
        c = arr.close
        close = c[hits]
        vol = arr.volume[hits]
        mean = arr.mean[hits]
        _, _, _, rcols = reversion_columns(p, close, vol, arr.streak[hits, 0], arr.streak[hits, 1], mean,
                                           arr.peak[hits], c[hits - p.gain_bars], arr.rsi[hits])
        _, _, mcols = momentum_columns(p, close, vol, c[hits - p.change_bars], mean, arr.counts_[hits])
        r = dict(zip(REVERSION_KEYS, rcols, strict=True))
        cols = [combined.tolist(), DIRECTIONS[msign].tolist(), r["direction"], *mcols,
                *(r[k] for k in _REVERSION_FEATURES), r["volume_ratio"]]
        features = map(_FEATURES, *cols)
        return list(map(self.signal_maker(meta), bars.open_time[hits].tolist(), _KINDS[kind, sign + 1].tolist(),
                        DIRECTIONS[sign].tolist(), score.tolist(), close.tolist(), features))
