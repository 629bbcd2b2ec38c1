"""The four mean-reversion factors, shared by ``mean_reversion`` and ``balanced_score``.

At bar ``t`` (bars, not minutes - a gap is simply the next bar):

* **momentum exhaustion**: at least ``streak_min`` consecutive higher closes
  (votes *bearish*: an up-move that may exhaust) or lower closes (votes *bullish*);
* **volume exhaustion**: the peak volume of the ``peak_lookback`` bars before ``t``
  is at least ``volume_mult`` x the mean volume of the ``volume_window`` bars
  before ``t``, and ``volume[t] <= (1 - volume_decline) * peak`` (volume now
  falling from the climax); it votes against the price move over ``gain_bars``
  (rise -> bearish, fall -> bullish, no move -> no vote);
* **excessive gain**: ``move_pct = (close[t] / close[t - gain_bars] - 1) * 100`` at
  least ``gain_pct`` (bearish) or at most ``-gain_pct`` (bullish);
* **RSI extreme**: Wilder RSI(``rsi_period``) above ``rsi_overbought`` (bearish) or
  below ``rsi_oversold`` (bullish).

Each vote is worth 25 points. ``reversion_score = 25 * max(bearish votes, bullish
votes)``; the direction is the side with more votes (neutral on a tie). So all four
factors agreeing give 100. Inputs are ready once ``max(rsi_period, volume_window,
gain_bars)`` bars precede ``t``; before that the score is 0 and nothing is emitted.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Protocol

import numpy as np

from detectors.features.window import (
    CloseStreak,
    WilderRSI,
    close_streaks,
    rsi_series,
    seq_sum,
    shift,
    trailing_max,
    trailing_mean,
)


class ReversionParams(Protocol):
    streak_min: int
    volume_window: int
    peak_lookback: int
    volume_mult: float
    volume_decline: float
    gain_bars: int
    gain_pct: float
    rsi_period: int
    rsi_overbought: float
    rsi_oversold: float


def check_reversion_params(p: ReversionParams, detector: str) -> None:
    def bad(msg: str) -> ValueError:
        return ValueError(f"detector {detector}: {msg}")

    if p.streak_min < 1:
        raise bad(f"streak_min must be >= 1, got {p.streak_min}")
    if p.volume_window < 2:
        raise bad(f"volume_window must be >= 2, got {p.volume_window}")
    if not 1 <= p.peak_lookback <= p.volume_window:
        raise bad(f"peak_lookback must be in [1, volume_window], got {p.peak_lookback}")
    if p.volume_mult <= 0:
        raise bad(f"volume_mult must be > 0, got {p.volume_mult}")
    if not 0.0 <= p.volume_decline < 1.0:
        raise bad(f"volume_decline must be in [0, 1), got {p.volume_decline}")
    if p.gain_bars < 1:
        raise bad(f"gain_bars must be >= 1, got {p.gain_bars}")
    if p.gain_pct <= 0:
        raise bad(f"gain_pct must be > 0, got {p.gain_pct}")
    if p.rsi_period < 2:
        raise bad(f"rsi_period must be >= 2, got {p.rsi_period}")
    if not 0 <= p.rsi_oversold < p.rsi_overbought <= 100:
        raise bad(f"need 0 <= rsi_oversold < rsi_overbought <= 100, got {p.rsi_oversold}, {p.rsi_overbought}")


def reversion_warmup(p: ReversionParams) -> int:
    return max(p.rsi_period, p.volume_window, p.gain_bars)


def score_reversion(p: ReversionParams, close: float, volume: float, up: int, down: int,
                    vol_avg: float, vol_peak: float, close_ago: float,
                    rsi: float) -> tuple[int, int, float, bool, bool, bool, bool]:
    """Votes of one bar: (bearish, bullish, move_pct, momentum, volume, gain, rsi flags)."""
    move_pct = (close / close_ago - 1.0) * 100.0
    bear = bull = 0
    mom = up >= p.streak_min or down >= p.streak_min
    if up >= p.streak_min:
        bear += 1
    elif down >= p.streak_min:
        bull += 1
    vol = vol_peak >= p.volume_mult * vol_avg and vol_peak > 0.0 and volume <= (1.0 - p.volume_decline) * vol_peak
    if vol:
        if move_pct > 0.0:
            bear += 1
        elif move_pct < 0.0:
            bull += 1
    gain = move_pct >= p.gain_pct or move_pct <= -p.gain_pct
    if move_pct >= p.gain_pct:
        bear += 1
    elif move_pct <= -p.gain_pct:
        bull += 1
    ext = rsi > p.rsi_overbought or rsi < p.rsi_oversold
    if rsi > p.rsi_overbought:
        bear += 1
    elif rsi < p.rsi_oversold:
        bull += 1
    return bear, bull, move_pct, mom, vol, gain, ext


def reversion_features(p: ReversionParams, close: float, volume: float, up: int, down: int,
                       vol_avg: float, vol_peak: float, close_ago: float,
                       rsi: float) -> tuple[float, str, dict[str, Any]]:
    """(reversion_score, direction, features) of one bar; the same code for both paths."""
    bear, bull, move_pct, mom, vol, gain, ext = score_reversion(
        p, close, volume, up, down, vol_avg, vol_peak, close_ago, rsi)
    score = 25.0 * max(bear, bull)
    direction = "bearish" if bear > bull else "bullish" if bull > bear else "neutral"
    features: dict[str, Any] = {
        "reversion_score": score,
        "direction": direction,
        "momentum_exhaustion": mom,
        "streak": up if up >= down else -down,
        "volume_exhaustion": vol,
        "volume_ratio": vol_peak / vol_avg if vol_avg > 0.0 else None,
        "volume_decline": 1.0 - volume / vol_peak if vol_peak > 0.0 else None,
        "excessive_gain": gain,
        "move_pct": move_pct,
        "rsi_extreme": ext,
        "rsi": rsi,
        "bearish_votes": bear,
        "bullish_votes": bull,
    }
    return score, direction, features


class ReversionState:
    """Streaming inputs of the factors; bounded (two small ring buffers + scalars)."""

    __slots__ = ("p", "streak", "rsi", "vols", "peaks", "closes")

    def __init__(self, p: ReversionParams) -> None:
        self.p = p
        self.streak = CloseStreak()
        self.rsi = WilderRSI(p.rsi_period)
        self.vols: deque[float] = deque(maxlen=p.volume_window)
        self.peaks: deque[float] = deque(maxlen=p.peak_lookback)
        self.closes: deque[float] = deque(maxlen=p.gain_bars)

    def snapshot(self) -> tuple[Any, ...]:
        s, r = self.streak, self.rsi
        return (s.prev, s.up, s.down, r.prev, r.count, r.gain, r.loss, r.value,
                tuple(self.vols), tuple(self.peaks), tuple(self.closes))

    def restore(self, snap: tuple[Any, ...]) -> None:
        s, r = self.streak, self.rsi
        s.prev, s.up, s.down, r.prev, r.count, r.gain, r.loss, r.value = snap[:8]
        self.vols = deque(snap[8], maxlen=self.p.volume_window)
        self.peaks = deque(snap[9], maxlen=self.p.peak_lookback)
        self.closes = deque(snap[10], maxlen=self.p.gain_bars)

    def update(self, close: float, volume: float) -> tuple[Any, ...] | None:
        """Advance one bar; returns the scorer's inputs after ``close``/``volume``,
        or None during warm-up."""
        p = self.p
        self.streak.update(close)
        rsi = self.rsi.update(close)
        vols, closes = self.vols, self.closes
        ready = len(vols) == p.volume_window and len(closes) == p.gain_bars and not math.isnan(rsi)
        out = None
        if ready:
            out = (close, volume, self.streak.up, self.streak.down, seq_sum(vols) / p.volume_window,
                   max(self.peaks), closes[0], rsi)
        vols.append(volume)
        self.peaks.append(volume)
        closes.append(close)
        return out


class ReversionArrays:
    """Batch inputs of the factors over a whole series (NaN where not ready)."""

    def __init__(self, p: ReversionParams, close: np.ndarray, volume: np.ndarray) -> None:
        self.close = close
        self.volume = volume
        self.up, self.down = close_streaks(close)
        self.vol_avg = trailing_mean(volume, p.volume_window)
        self.vol_peak = trailing_max(volume, p.peak_lookback)
        self.close_ago = shift(close, p.gain_bars)
        self.rsi = rsi_series(close, p.rsi_period)
        self.ready = ~(np.isnan(self.vol_avg) | np.isnan(self.close_ago) | np.isnan(self.rsi))
        self.ready[: reversion_warmup(p)] = False

    def inputs(self, i: int) -> tuple[Any, ...]:
        return (float(self.close[i]), float(self.volume[i]), int(self.up[i]), int(self.down[i]),
                float(self.vol_avg[i]), float(self.vol_peak[i]), float(self.close_ago[i]),
                float(self.rsi[i]))

    def scores(self, p: ReversionParams) -> tuple[np.ndarray, np.ndarray]:
        """(score, signed direction +1 bullish / -1 bearish / 0) for every bar; equal to
        :func:`score_reversion` bar by bar (integer vote arithmetic)."""
        c, v = self.close, self.volume
        with np.errstate(invalid="ignore", divide="ignore"):
            move = (c / self.close_ago - 1.0) * 100.0
            bear = (self.up >= p.streak_min).astype(np.int64)
            bull = ((self.up < p.streak_min) & (self.down >= p.streak_min)).astype(np.int64)
            peak, avg = self.vol_peak, self.vol_avg
            vol = (peak >= p.volume_mult * avg) & (peak > 0.0) & (v <= (1.0 - p.volume_decline) * peak)
            bear += vol & (move > 0.0)
            bull += vol & (move < 0.0)
            bear += move >= p.gain_pct
            bull += (move < p.gain_pct) & (move <= -p.gain_pct)
            bear += self.rsi > p.rsi_overbought
            bull += ~(self.rsi > p.rsi_overbought) & (self.rsi < p.rsi_oversold)
        score = np.where(self.ready, 25.0 * np.maximum(bear, bull), 0.0)
        sign = np.where(self.ready, np.sign(bull - bear), 0).astype(np.int64)
        return score, sign
