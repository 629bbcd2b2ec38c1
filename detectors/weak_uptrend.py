"""Weak uptrend: an uptrend showing at least ``min_patterns`` of five weakness
patterns, momentum loss (W3) being mandatory.

At bar ``j``, against the bar before it (``j-1``); bars, not minutes:

* **W1** higher high on lower volume: ``high > high[j-1]`` and ``volume < volume[j-1]``;
* **W2** up bar with similar or smaller spread: ``close > close[j-1]`` and
  ``spread <= spread[j-1] * (1 + similar_spread)`` (similar_spread 0.10);
* **W3** momentum loss, detected three ways (any one suffices):
  ``smaller_gain`` - an up close gaining less than the previous bar did;
  ``rsi_divergence`` - a higher high with a lower RSI(``rsi_period`` 14) than the bar before;
  ``weak_close`` - a higher high closing in the lower half of its range;
* **W4** excess volume: ``volume >= excess_volume`` (2.0) x mean volume of the
  ``window`` (20) bars before;
* **W5** wide range with lower close: ``spread >= wide_spread`` (1.5) x mean spread of
  the ``window`` bars before and ``close < close[j-1]``.

A pattern is *active* at bar ``t`` when it occurred on one of the last
``recent_bars`` (3) bars, ``t`` included. The series is in an **uptrend** when
``close[t] > close[t - trend_bars]`` (trend_bars 10). ``WEAK_UPTREND`` (bearish) is
emitted on the bar where "uptrend and W3 active and at least ``min_patterns`` (3)
of W1-W5 active" becomes true (not again while it stays true). ``score = 20 x``
active patterns; features name each pattern and each W3 method.

``evaluate_on``: "current" (default) or "last_closed" (see
:mod:`detectors.features.evaluate_on`). Warm-up: ``max(window, trend_bars,
rsi_period + 1)`` bars. RSI is Wilder's with TA-Lib arithmetic (unbounded memory),
so state is checkpointed exactly via :class:`~detectors.features.state.SnapshotDetector`.

Both paths keep one flag mask per bar (bit ``k`` = ``FLAGS[k]``, as :func:`bar_flags`
defines them) for the last ``recent_bars`` bars; the active patterns are their OR.
Streaming does it with scalars and a small ring; batch runs the same recurrence
(RSI included, same arithmetic) in one compiled kernel (:func:`_weak_kernel`) and
builds signals for its hits only.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.evaluate_on import EVALUATE_ON
from detectors.features.state import SnapshotDetector
from detectors.features.trailing import sequential_sum, shared_trailing_mean
from detectors.indicators._jit import kernel
from detectors.records import Signal

#: pattern flags in a fixed order: W1, W2, W3 methods, W4, W5
FLAGS = ("w1", "w2", "w3_smaller_gain", "w3_rsi_divergence", "w3_weak_close", "w4", "w5")
#: mask bits of the three W3 methods
_W3 = 0b11100


def _pattern_count(mask: int) -> int:
    """Patterns W1-W5 in a flag mask (the W3 methods count as one)."""
    return (mask & 1) + (mask >> 1 & 1) + (1 if mask & _W3 else 0) + (mask >> 5 & 1) + (mask >> 6 & 1)


#: pattern count of every flag mask
_COUNT = tuple(_pattern_count(m) for m in range(1 << len(FLAGS)))
#: score of every active mask
_SCORE = tuple(20.0 * n for n in _COUNT)


def _feature_templates(evaluate_on: str) -> tuple[dict[str, Any], ...]:
    """Per active mask, a signal's features but its RSI (a copy is taken and the
    RSI set per signal): each flag, w3, the pattern count, rsi, evaluated_on."""
    out = []
    for active in range(1 << len(FLAGS)):
        features: dict[str, Any] = {f: bool(active >> k & 1) for k, f in enumerate(FLAGS)}
        features.update({"w3": bool(active & _W3), "pattern_count": _COUNT[active], "rsi": math.nan,
                         "evaluated_on": evaluate_on})
        out.append(features)
    return tuple(out)


class WeakUptrendParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    window: int = 20
    trend_bars: int = 10
    rsi_period: int = 14
    similar_spread: float = 0.10
    excess_volume: float = 2.0
    wide_spread: float = 1.5
    recent_bars: int = 3
    min_patterns: int = 3
    evaluate_on: str = "current"


def bar_flags(p: WeakUptrendParams, h: float, lo: float, c: float, v: float, rsi: float,
              h1: float, lo1: float, c1: float, c2: float, v1: float, rsi1: float,
              mean_v: float, mean_s: float) -> tuple[bool, ...]:
    """The seven flags of one bar (NaN inputs make a flag false, in both paths)."""
    spread, spread1 = h - lo, h1 - lo1
    cp = (c - lo) / spread if spread > 0.0 else 0.5
    return (
        h > h1 and v < v1,
        c > c1 and spread <= spread1 * (1.0 + p.similar_spread),
        c > c1 and (c - c1) < (c1 - c2),
        h > h1 and rsi < rsi1,
        h > h1 and cp < 0.5,
        v >= p.excess_volume * mean_v,
        spread >= p.wide_spread * mean_s and c < c1,
    )


@kernel
def _weak_kernel(h: np.ndarray, lo: np.ndarray, c: np.ndarray, mean_v: np.ndarray, mean_s: np.ndarray,
                 v: np.ndarray, w: int, trend_bars: int, period: int, similar: float, excess: float, wide: float,
                 recent: int, min_patterns: int, warmup: int, hits: np.ndarray, actives: np.ndarray,
                 rsis: np.ndarray) -> int:
    """:meth:`WeakUptrend._advance` over a whole series (``similar`` is ``1 +
    similar_spread``), given the trailing mean volume and spread of every bar
    (``seq_sum(window) / window``, as streaming takes them); fills hit bar, active
    mask and RSI per signal and returns the count. The RSI is
    :class:`~detectors.features.window.WilderRSI`'s arithmetic."""
    nan = np.nan
    ring = np.zeros(recent, dtype=np.int64)
    r_prev = 0.0
    gain = 0.0
    loss = 0.0
    rsi = nan
    h1 = lo1 = c1 = c2 = v1 = rsi1 = nan
    was_weak = False
    k = 0
    for t in range(len(c)):
        ht, lt, ct, vt = h[t], lo[t], c[t], v[t]
        if t > 0:  # Wilder RSI
            diff = ct - r_prev
            if t <= period:
                if diff < 0:
                    loss -= diff
                else:
                    gain += diff
                if t == period:
                    loss /= period
                    gain /= period
            else:
                loss = loss * (period - 1)
                gain = gain * (period - 1)
                if diff < 0:
                    loss -= diff
                else:
                    gain += diff
                loss = loss / period
                gain = gain / period
            if t >= period:
                total = gain + loss
                rsi = 100.0 * (gain / total) if total != 0.0 else 50.0
        r_prev = ct
        spread = ht - lt
        m = 0
        if ht > h1:
            if vt < v1:
                m |= 1
            if rsi < rsi1:
                m |= 8
            if spread > 0.0 and (ct - lt) / spread < 0.5:
                m |= 16
        if ct > c1:
            if spread <= (h1 - lo1) * similar:
                m |= 2
            if (ct - c1) < (c1 - c2):
                m |= 4
        if t >= w:
            if vt >= excess * mean_v[t]:
                m |= 32
            if ct < c1 and spread >= wide * mean_s[t]:
                m |= 64
        ring[t % recent] = m
        weak = False
        if t >= warmup and t >= trend_bars and ct > c[t - trend_bars]:
            active = 0
            for q in range(min(recent, t + 1)):
                active |= ring[q]
            count = (active & 1) + (active >> 1 & 1) + (1 if active & 28 else 0) + (active >> 5 & 1) \
                + (active >> 6 & 1)
            if active & 28 and count >= min_patterns:
                weak = True
                if not was_weak:
                    hits[k] = t
                    actives[k] = active
                    rsis[k] = rsi
                    k += 1
        was_weak = weak
        h1, lo1, c2, c1, v1, rsi1 = ht, lt, c1, ct, vt, rsi
    return k


class WeakUptrend(SnapshotDetector):
    name = "weak_uptrend"
    version = "1.0.0"
    Params = WeakUptrendParams
    params: WeakUptrendParams

    def _check_params(self) -> None:
        p = self.params
        if p.evaluate_on not in EVALUATE_ON:
            raise ValueError(f"detector weak_uptrend: evaluate_on must be one of {EVALUATE_ON}")
        if p.window < 2 or p.trend_bars < 1 or p.rsi_period < 2 or p.recent_bars < 1:
            raise ValueError("detector weak_uptrend: window >= 2, trend_bars >= 1, rsi_period >= 2, recent_bars >= 1")
        if not 1 <= p.min_patterns <= 5:
            raise ValueError(f"detector weak_uptrend: min_patterns must be in [1, 5], got {p.min_patterns}")
        self._warmup = max(p.window, p.trend_bars, p.rsi_period + 1)
        self._similar = 1.0 + p.similar_spread
        self._window, self._excess, self._wide = p.window, p.excess_volume, p.wide_spread
        self._min_patterns = p.min_patterns
        self._period = p.rsi_period
        self._last_closed = p.evaluate_on == "last_closed"
        self._templates = _feature_templates(p.evaluate_on)

    @property
    def warmup(self) -> int:
        return self._warmup

    def _reset(self) -> None:
        p = self.params
        self._t = -1
        # Wilder RSI (WilderRSI's arithmetic, inlined in _advance): the seed sums, then
        # the averages; its previous close and value are c1 and rsi1 of _prev
        self._gain = 0.0
        self._loss = 0.0
        self._vols: deque[float] = deque(maxlen=p.window)
        self._spreads: deque[float] = deque(maxlen=p.window)
        self._closes: deque[float] = deque(maxlen=p.trend_bars)
        nan = math.nan
        self._prev = (nan, nan, nan, nan, nan, nan)  # h1, lo1, c1, c2, v1, rsi1
        self._masks: deque[int] = deque(maxlen=p.recent_bars)  # flag masks of the recent bars
        self._was_weak = False
        self._pending: list[Signal] = []

    def _snapshot(self) -> tuple:
        # the RSI as WilderRSI's (prev, count, gain, loss, value): the checkpoint layout
        prev = self._prev
        rsi = (prev[2], self._t + 1, self._gain, self._loss, prev[5])
        return (self._t, rsi, tuple(self._vols), tuple(self._spreads), tuple(self._closes), prev,
                tuple(self._masks), self._was_weak, tuple(msgspec.to_builtins(s) for s in self._pending))

    def _restore(self, s: tuple) -> None:
        p = self.params
        self._t = s[0]
        _, _, self._gain, self._loss, _ = s[1]
        self._vols = deque(s[2], maxlen=p.window)
        self._spreads = deque(s[3], maxlen=p.window)
        self._closes = deque(s[4], maxlen=p.trend_bars)
        self._prev = tuple(s[5])
        self._masks = deque(s[6], maxlen=p.recent_bars)
        self._was_weak = s[7]
        self._pending = [msgspec.convert(x, Signal) for x in s[8]]

    def _signal(self, meta: SeriesMeta | None, open_time: int, close: float, active: int, rsi: float) -> Signal:
        features = self._templates[active].copy()
        features["rsi"] = rsi
        return self.make_signal(meta, open_time, signal_type="WEAK_UPTREND", direction="bearish",
                                score=_SCORE[active], price=close, features=features)

    def _advance(self, bar: Bar) -> list[Signal]:
        t = self._t + 1  # bars before this one
        self._t = t
        h = bar.high
        lo = bar.low
        c = bar.close
        v = bar.volume
        h1, lo1, c1, c2, v1, rsi1 = self._prev
        # Wilder RSI: WilderRSI.update's arithmetic (NaN until period + 1 closes)
        rsi = rsi1
        if t:
            period = self._period
            diff = c - c1
            if t > period:
                loss = self._loss * (period - 1)
                gain = self._gain * (period - 1)
                if diff < 0:
                    loss -= diff
                else:
                    gain += diff
                self._loss = loss = loss / period
                self._gain = gain = gain / period
                total = gain + loss
                rsi = 100.0 * (gain / total) if total != 0.0 else 50.0
            else:
                if diff < 0:
                    self._loss -= diff
                else:
                    self._gain += diff
                if t == period:
                    self._loss = loss = self._loss / period
                    self._gain = gain = self._gain / period
                    total = gain + loss
                    rsi = 100.0 * (gain / total) if total != 0.0 else 50.0
        spread = h - lo
        # the flags of bar_flags, as a mask; the windows are read only when full
        m = 0
        if h > h1:
            if v < v1:
                m = 1
            if rsi < rsi1:
                m |= 8
            if spread > 0.0 and (c - lo) / spread < 0.5:
                m |= 16
        if c > c1:
            if spread <= (h1 - lo1) * self._similar:
                m |= 2
            if (c - c1) < (c1 - c2):
                m |= 4
        vols = self._vols
        spreads = self._spreads
        if t >= self._window:  # the windows are full
            w = self._window
            if v >= self._excess * (sequential_sum(vols, 0.0) / w):
                m |= 32
            if c < c1 and spread >= self._wide * (sequential_sum(spreads, 0.0) / w):
                m |= 64
        masks = self._masks
        masks.append(m)
        closes = self._closes
        out: list[Signal] = []
        if t >= self._warmup and c > closes[0]:  # closes is full from the warm-up on
            active = 0
            for x in masks:
                active |= x
            if active & _W3 and _COUNT[active] >= self._min_patterns:
                if not self._was_weak:
                    out.append(self._signal(self.meta, bar.open_time, c, active, rsi))
                self._was_weak = True
            else:
                self._was_weak = False
        else:
            self._was_weak = False
        vols.append(v)
        spreads.append(spread)
        closes.append(c)
        self._prev = (h, lo, c, c1, v, rsi)
        if self._last_closed:
            out, self._pending = self._pending, out
        return out

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        n = len(bars)
        if n == 0:
            return []
        hits = np.empty(n, dtype=np.int64)
        actives = np.empty(n, dtype=np.int64)
        rsis = np.empty(n)
        k = _weak_kernel(bars.high, bars.low, bars.close, shared_trailing_mean(bars, "volume", p.window),
                         shared_trailing_mean(bars, "spread", p.window), bars.volume, p.window, p.trend_bars,
                         p.rsi_period, self._similar, float(p.excess_volume), float(p.wide_spread), p.recent_bars,
                         p.min_patterns, self._warmup, hits, actives, rsis)
        if p.evaluate_on == "last_closed" and k and hits[k - 1] == n - 1:
            k -= 1  # the newest bar's signal is still pending
        idx = hits[:k]
        make = self.signal_maker(meta)
        templates, score = self._templates, _SCORE
        out: list[Signal] = []
        append = out.append
        for t, c, a, r in zip(bars.open_time[idx].tolist(), bars.close[idx].tolist(), actives[:k].tolist(),
                              rsis[:k].tolist(), strict=True):
            features = templates[a].copy()
            features["rsi"] = r
            append(make(t, "WEAK_UPTREND", "bearish", score[a], c, features))
        return out
