"""Mean reversion (continuous multi-timeframe scanner): four exhaustion factors.

Factors, votes and the score are defined in :mod:`detectors.features.reversion`
(momentum exhaustion: >= 4 consecutive closes one way; volume exhaustion: peak
volume >= 1.5x average and now >= 10% below the peak; excessive gain: >= 15% over
5 bars; RSI(14) above 70 / below 30). Each agreeing factor adds 25 points to
``reversion_score`` (0-100).

A signal is emitted for bar ``t`` when ``reversion_score >= min_score`` and the
direction is not neutral: ``REVERSION_BEARISH`` after an exhausted rise,
``REVERSION_BULLISH`` after an exhausted fall. ``features.candidate`` is true when
``reversion_score >= candidate_score``. ``score`` is the reversion score.

Parameters (defaults): streak_min 4, volume_window 20, peak_lookback 5,
volume_mult 1.5, volume_decline 0.10, gain_bars 5, gain_pct 15.0, rsi_period 14,
rsi_overbought 70, rsi_oversold 30, min_score 50, candidate_score 75.

Gaps: windows count bars, not minutes; missing bars are skipped, never padded.
Warm-up: ``max(rsi_period, volume_window, gain_bars)`` bars.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
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

_FEATURE_KEYS = (*REVERSION_KEYS, "candidate")
_FEATURES = dict_builder(_FEATURE_KEYS)
_KINDS = np.array(["REVERSION_BULLISH", "REVERSION_BEARISH"])  # indexed by "bearish"


class MeanReversionParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
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
    min_score: float = 50.0
    candidate_score: float = 75.0


class MeanReversion(SnapshotDetector):
    name = "mean_reversion"
    version = "1.0.0"
    Params = MeanReversionParams
    keeps_own_state = False  # in a set: everything it reads is the feed's
    params: MeanReversionParams

    def _check_params(self) -> None:
        p = self.params
        check_reversion_params(p, self.name)
        if not 0 < p.min_score <= 100 or not 0 < p.candidate_score <= 100:
            raise ValueError(f"detector {self.name}: min_score and candidate_score must be in (0, 100]")
        # one vote is worth 25: a bar needs this many on one side
        self._min_votes = next(k for k in range(1, 5) if 25.0 * k >= p.min_score)
        # reversion_votes_bound's thresholds, for the inlined bound of _advance
        self._bound = (p.streak_min, p.gain_pct, -p.gain_pct, p.rsi_overbought, p.rsi_oversold,
                       -p.gain_bars - 1, self._min_votes - 1)

    @property
    def warmup(self) -> int:
        return reversion_warmup(self.params)

    def _reset(self) -> None:
        if self._own:  # a shared state is its feed's
            self._state = ScannerState(self.params, reversion=True)

    def feed_spec(self) -> tuple[type[Feed], dict[str, Any]]:
        return scanner_spec(self.params, reversion=True)

    def _use_feed(self, feed: Feed) -> None:
        self._state = feed.state

    def _emit(self, meta: SeriesMeta | None, open_time: int, inputs: ReversionInputs) -> Signal | None:
        p = self.params
        votes = score_reversion(p, *inputs)
        bear, bull = votes[0], votes[1]
        if 25.0 * max(bear, bull) < p.min_score or bear == bull:  # cheap test before features
            return None
        score, direction, features = reversion_features(p, *inputs, votes=votes)
        features["candidate"] = score >= p.candidate_score
        kind = "REVERSION_BEARISH" if direction == "bearish" else "REVERSION_BULLISH"
        return self.make_signal(meta, open_time, signal_type=kind, direction=direction,
                                score=score, price=inputs[0], features=features)

    def _snapshot(self) -> tuple:
        return self._state.snapshot() if self._own else ()

    def _restore(self, snap: tuple) -> None:
        if self._own:
            self._state.restore(snap)

    def _advance(self, bar: Bar) -> list[Signal]:
        s = self._state
        c = bar.close
        if self._own:
            s.update(bar.open, c, bar.volume)
        if s.t < s.rev_warm:
            return []
        # reversion_votes_bound(p, s.up, s.down, move_pct, s.rsi_value) >= self._min_votes,
        # inlined: the streak, move and RSI votes, plus one for the volume vote
        streak_min, gain, loss, ob, os_, ago, need = self._bound
        move_pct = (c / s.closes[ago] - 1.0) * 100.0
        r = s.rsi_value
        bear = (s.up >= streak_min) + (move_pct >= gain) + (r > ob)
        bull = (s.down >= streak_min) + (move_pct <= loss) + (r < os_)
        if bear < need and bull < need:
            return []  # cannot reach min_score even with the volume vote
        sig = self._emit(self.meta, bar.open_time, s.reversion_inputs())
        return [] if sig is None else [sig]

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        arr = scanner_series_of(p, bars, reversion=True)
        votes_score, sign = arr.reversion_scores()
        hits = np.flatnonzero((votes_score >= p.min_score) & (sign != 0))
        c = arr.close
        # what _emit computes bar by bar, for every hit at once (the same values and types)
        score, bear, bull, cols = reversion_columns(
            p, c[hits], arr.volume[hits], arr.streak[hits, 0], arr.streak[hits, 1], arr.mean[hits],
            arr.peak[hits], c[hits - p.gain_bars], arr.rsi[hits])
        cols.append((score >= p.candidate_score).tolist())
        kinds = _KINDS[(bear > bull).astype(np.int64)].tolist()
        features = map(_FEATURES, *cols)
        return list(map(self.signal_maker(meta), bars.open_time[hits].tolist(), kinds, cols[1], cols[0],
                        c[hits].tolist(), features))
