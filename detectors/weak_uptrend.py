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
from detectors.features.window import WilderRSI, rsi_series, seq_sum, shift, trailing_mean
from detectors.records import Signal

#: pattern flags in a fixed order: W1, W2, W3 methods, W4, W5
FLAGS = ("w1", "w2", "w3_smaller_gain", "w3_rsi_divergence", "w3_weak_close", "w4", "w5")


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

    @property
    def warmup(self) -> int:
        p = self.params
        return max(p.window, p.trend_bars, p.rsi_period + 1)

    def _reset(self) -> None:
        p = self.params
        self._t = -1
        self._rsi = WilderRSI(p.rsi_period)
        self._vols: deque[float] = deque(maxlen=p.window)
        self._spreads: deque[float] = deque(maxlen=p.window)
        self._closes: deque[float] = deque(maxlen=p.trend_bars)
        nan = math.nan
        self._prev = (nan, nan, nan, nan, nan, nan)  # h1, lo1, c1, c2, v1, rsi1
        self._last_seen = [-(10**9)] * len(FLAGS)
        self._was_weak = False
        self._pending: list[Signal] = []

    def _snapshot(self) -> tuple:
        r = self._rsi
        return (self._t, (r.prev, r.count, r.gain, r.loss, r.value), tuple(self._vols),
                tuple(self._spreads), tuple(self._closes), self._prev, tuple(self._last_seen),
                self._was_weak, tuple(msgspec.to_builtins(s) for s in self._pending))

    def _restore(self, s: tuple) -> None:
        p = self.params
        self._t = s[0]
        r = self._rsi
        r.prev, r.count, r.gain, r.loss, r.value = s[1]
        self._vols = deque(s[2], maxlen=p.window)
        self._spreads = deque(s[3], maxlen=p.window)
        self._closes = deque(s[4], maxlen=p.trend_bars)
        self._prev = tuple(s[5])
        self._last_seen = list(s[6])
        self._was_weak = s[7]
        self._pending = [msgspec.convert(x, Signal) for x in s[8]]

    def _decide(self, active: tuple[bool, ...], uptrend: bool) -> tuple[bool, int, bool]:
        w3 = active[2] or active[3] or active[4]
        count = int(active[0]) + int(active[1]) + int(w3) + int(active[5]) + int(active[6])
        return uptrend and w3 and count >= self.params.min_patterns, count, w3

    def _signal(self, meta: SeriesMeta | None, open_time: int, close: float,
                active: tuple[bool, ...], count: int, rsi: float) -> Signal:
        features: dict[str, Any] = {f: bool(a) for f, a in zip(FLAGS, active, strict=True)}
        features["w3"] = bool(active[2] or active[3] or active[4])
        features.update({"pattern_count": count, "rsi": rsi, "evaluated_on": self.params.evaluate_on})
        return self.make_signal(meta, open_time, signal_type="WEAK_UPTREND", direction="bearish",
                                score=20.0 * count, price=close, features=features)

    def _advance(self, bar: Bar) -> list[Signal]:
        p = self.params
        t = self._t = self._t + 1
        h, lo, c, v = bar.high, bar.low, bar.close, bar.volume
        rsi = self._rsi.update(c)
        nan = math.nan
        mean_v = seq_sum(self._vols) / p.window if len(self._vols) == p.window else nan
        mean_s = seq_sum(self._spreads) / p.window if len(self._spreads) == p.window else nan
        h1, lo1, c1, c2, v1, rsi1 = self._prev
        flags = bar_flags(p, h, lo, c, v, rsi, h1, lo1, c1, c2, v1, rsi1, mean_v, mean_s)
        seen = self._last_seen
        for k, f in enumerate(flags):
            if f:
                seen[k] = t
        uptrend = len(self._closes) == p.trend_bars and c > self._closes[0]
        edge = t - p.recent_bars
        active = tuple(s > edge for s in seen)
        weak, count, _ = self._decide(active, uptrend)
        weak = weak and t >= self.warmup
        out: list[Signal] = []
        if weak and not self._was_weak:
            out.append(self._signal(self.meta, bar.open_time, c, active, count, rsi))
        self._was_weak = weak
        self._vols.append(v)
        self._spreads.append(h - lo)
        self._closes.append(c)
        self._prev = (h, lo, c, c1, v, rsi)
        if p.evaluate_on == "last_closed":
            out, self._pending = self._pending, out
        return out

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        n = len(bars)
        if n == 0:
            return []
        h, lo, c, v = bars.high, bars.low, bars.close, bars.volume
        rsi = rsi_series(c, p.rsi_period)
        spread = h - lo
        mean_v, mean_s = trailing_mean(v, p.window), trailing_mean(spread, p.window)
        h1, lo1, c1, c2, v1, rsi1 = (shift(a, k) for a, k in ((h, 1), (lo, 1), (c, 1), (c, 2), (v, 1), (rsi, 1)))
        spread1 = h1 - lo1
        with np.errstate(invalid="ignore", divide="ignore"):
            cp = np.where(spread > 0.0, (c - lo) / np.where(spread > 0.0, spread, 1.0), 0.5)
            flags = [
                (h > h1) & (v < v1),
                (c > c1) & (spread <= spread1 * (1.0 + p.similar_spread)),
                (c > c1) & ((c - c1) < (c1 - c2)),
                (h > h1) & (rsi < rsi1),
                (h > h1) & (cp < 0.5),
                v >= p.excess_volume * mean_v,
                (spread >= p.wide_spread * mean_s) & (c < c1),
            ]
            uptrend = c > shift(c, p.trend_bars)
        active = []
        for f in flags:
            a = f.copy()
            for k in range(1, p.recent_bars):
                a[k:] |= f[:-k] if k < n else False
            active.append(a)
        w3 = active[2] | active[3] | active[4]
        count = (active[0].astype(np.int64) + active[1] + w3 + active[5] + active[6])
        weak = uptrend & w3 & (count >= p.min_patterns)
        weak[: self.warmup] = False
        prev = np.concatenate([[False], weak[:-1]])
        hits = np.nonzero(weak & ~prev)[0]
        if p.evaluate_on == "last_closed":
            hits = hits[hits < n - 1]
        return [self._signal(meta, int(bars.open_time[i]), float(c[i]),
                             tuple(bool(a[i]) for a in active), int(count[i]), float(rsi[i]))
                for i in hits]
