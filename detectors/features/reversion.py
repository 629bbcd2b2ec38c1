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

The inputs (streaks, mean and peak volume, the close ``gain_bars`` ago, RSI from
:mod:`detectors.indicators.rsi`) are computed per bar by
:mod:`detectors.features.scanner`. :func:`reversion_votes_bound` is an exact
shortcut for the streaming path: it counts the cheap votes and assumes the volume
vote, whose mean and peak volume are the costly inputs.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


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


def reversion_votes_bound(p: ReversionParams, up: int, down: int, move_pct: float, rsi: float) -> int:
    """At least the larger side's votes (so ``25 *`` this bounds ``reversion_score``):
    the streak, move and RSI votes exactly, plus one for the volume factor, whose
    mean and peak volume are the costly inputs. Each factor votes for one side at
    most (``up`` and ``down`` are never both positive; the thresholds are ordered)."""
    bear = (up >= p.streak_min) + (move_pct >= p.gain_pct) + (rsi > p.rsi_overbought)
    bull = (down >= p.streak_min) + (move_pct <= -p.gain_pct) + (rsi < p.rsi_oversold)
    return (bear if bear > bull else bull) + 1


#: what :func:`score_reversion` and :func:`reversion_features` take after the parameters
ReversionInputs = tuple[float, float, int, int, float, float, float, float]


def reversion_features(p: ReversionParams, close: float, volume: float, up: int, down: int,
                       vol_avg: float, vol_peak: float, close_ago: float, rsi: float,
                       votes: tuple[Any, ...] | None = None) -> tuple[float, str, dict[str, Any]]:
    """(reversion_score, direction, features) of one bar; the same code for both paths.
    ``votes``: what :func:`score_reversion` returned for these inputs, if known."""
    bear, bull, move_pct, mom, vol, gain, ext = votes or score_reversion(
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


#: the keys of :func:`reversion_features`, in its order
REVERSION_KEYS = ("reversion_score", "direction", "momentum_exhaustion", "streak", "volume_exhaustion",
                  "volume_ratio", "volume_decline", "excessive_gain", "move_pct", "rsi_extreme", "rsi",
                  "bearish_votes", "bullish_votes")
_DIRECTIONS = np.array(["neutral", "bullish", "bearish"])


def none_where(values: list[Any], bad: np.ndarray) -> list[Any]:
    """``values`` with None at the positions ``bad`` flags (in place)."""
    for j in np.flatnonzero(bad).tolist():
        values[j] = None
    return values


def reversion_columns(p: ReversionParams, close: np.ndarray, volume: np.ndarray, up: np.ndarray,
                      down: np.ndarray, vol_avg: np.ndarray, vol_peak: np.ndarray, close_ago: np.ndarray,
                      rsi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[Any]]]:
    """:func:`reversion_features` of many bars at once (arrays of its inputs):
    (reversion_score, bearish votes, bullish votes, columns in :data:`REVERSION_KEYS`
    order), the same values and Python types, element for element."""
    move = (close / close_ago - 1.0) * 100.0
    sm = p.streak_min
    up_x = up >= sm
    down_x = down >= sm
    vol = (vol_peak >= p.volume_mult * vol_avg) & (vol_peak > 0.0) & (volume <= (1.0 - p.volume_decline) * vol_peak)
    gain_up = move >= p.gain_pct
    gain_down = move <= -p.gain_pct
    ob = rsi > p.rsi_overbought
    os_ = rsi < p.rsi_oversold
    bear = up_x.astype(np.int64) + (vol & (move > 0.0)) + gain_up + ob
    bull = (~up_x & down_x).astype(np.int64) + (vol & (move < 0.0)) + (~gain_up & gain_down) + (~ob & os_)
    score = 25.0 * np.maximum(bear, bull)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = vol_peak / vol_avg
        decline = 1.0 - volume / vol_peak
    cols = [score.tolist(), _DIRECTIONS[np.sign(bull - bear)].tolist(), (up_x | down_x).tolist(),
            np.where(up >= down, up, -down).tolist(), vol.tolist(), none_where(ratio.tolist(), ~(vol_avg > 0.0)),
            none_where(decline.tolist(), ~(vol_peak > 0.0)), (gain_up | gain_down).tolist(), move.tolist(),
            (ob | os_).tolist(), rsi.tolist(), bear.tolist(), bull.tolist()]
    return score, bear, bull, cols
