"""Pin down: a bearish top candle at a significant high whose low is broken soon.

* **top candle** ``j``: bearish (``close < open``); its high at, or within a
  volatility-relative tolerance of, the highest high of the ``high_lookback``
  (20) bars before it: ``high >= ref - near_range * avg_range`` where ``ref``
  is that highest high and ``avg_range`` the mean ``high - low`` of those same
  bars (``near_range`` 0.25: within a quarter of a typical bar's range, i.e. at
  the high to within the noise of one bar); **not an outside bar** (not both
  ``high > high[j-1]`` and ``low < low[j-1]``);
* **break**: a later bar ``k`` with ``j < k <= j + confirm_bars`` (3) trading below the
  top candle's low (``break_on="low"``, default) or closing below it
  (``break_on="close"``); only the first break of a candle counts.

Why a fraction of the average range and not a percent: a percent does not scale
across timeframes or assets (1.0's 0.5% put nearly every 1m BTC bar "near the
high": 28% of 1m bars signalled, 5% of 1h bars). With ``near_range`` 0.25 about
3% of FTX BTC-PERP bars signal on 1m, 15m and 1h alike. ``near_pct`` (default 0,
off) adds 1.0's percent tolerance: a top qualifies within either tolerance
(``high >= (1 - near_pct / 100) * max(ref, high)``); ``near_range=0,
near_pct=0.5`` is exactly version 1.0.

``PIN_DOWN`` (bearish) is emitted for bar ``k`` (the confirmation; features carry the
top candle's open time, high and low). When several top candles break on the same
bar the most recent one is reported. ``score = 100 * (0.4 * upper wick / range +
0.3 * body / range + 0.3 * speed)`` of the top candle, ``speed = (confirm_bars -
(k - j) + 1) / confirm_bars``.

Bars, not minutes: a gap is the next bar. ``evaluate_on``: "current" (default) or
"last_closed" (see :mod:`detectors.features.evaluate_on`). Warm-up: ``high_lookback + 1``.

Streaming keeps the last ``high_lookback`` highs and ranges and the (at most
``confirm_bars``) unbroken top candles, and sums the ranges (left to right,
:func:`~detectors.features.window.seq_sum`) only for a candidate top below
``ref``; batch runs the same recurrence in one compiled kernel
(:func:`_pin_down_kernel`) and builds signals for its confirmations only.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Literal

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.evaluate_on import EvaluateOnDetector
from detectors.features.rounds import in_rounds
from detectors.features.window import seq_sum
from detectors.indicators._jit import kernel
from detectors.records import Signal


class PinDownParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    high_lookback: int = 20
    near_range: float = 0.25
    near_pct: float = 0.0
    confirm_bars: int = 3
    break_on: Literal["low", "close"] = "low"
    evaluate_on: str = "current"


@kernel
def _pin_down_kernel(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, probe: np.ndarray,
                     lookback: int, near_range: float, near: float, confirm: int, breaks: np.ndarray,
                     tops: np.ndarray, refs: np.ndarray) -> int:
    """The streaming recurrence of :meth:`PinDown._evaluate_step` over a series:
    fills, per confirmation, the breaking bar, its top candle and that candle's
    reference high; returns the count."""
    active = np.empty(confirm + 1, dtype=np.int64)  # unbroken tops, oldest first
    top_ref = np.empty(len(c))
    na = 0
    k = 0
    for t in range(len(c)):
        hit = -1
        keep = 0
        for q in range(na):
            j = active[q]
            if probe[t] < lo[j]:
                hit = j  # the most recent broken top wins
            elif t - j < confirm:
                active[keep] = j
                keep += 1
        na = keep
        if hit >= 0:
            breaks[k] = t
            tops[k] = hit
            refs[k] = top_ref[hit]
            k += 1
        if t >= lookback and c[t] < o[t] and not (h[t] > h[t - 1] and lo[t] < lo[t - 1]):
            ref = h[t - lookback]
            for j in range(t - lookback + 1, t):
                ref = max(ref, h[j])
            is_top = h[t] >= ref or (near < 1.0 and h[t] >= near * ref)
            if not is_top and near_range > 0.0:
                total = 0.0  # left to right, as seq_sum
                for j in range(t - lookback, t):
                    total += h[j] - lo[j]
                is_top = h[t] >= ref - near_range * (total / lookback)
            if is_top:
                top_ref[t] = ref
                active[na] = t
                na += 1
    return k


class PinDown(EvaluateOnDetector):
    name = "pin_down"
    version = "2.0.0"
    Params = PinDownParams
    params: PinDownParams

    def _check_params(self) -> None:
        p = self.params
        self._check_evaluate_on()
        if p.high_lookback < 1 or p.confirm_bars < 1:
            raise ValueError("detector pin_down: high_lookback and confirm_bars must be >= 1")
        if not 0.0 <= p.near_range < math.inf:
            raise ValueError(f"detector pin_down: near_range (a fraction of the average bar range) must be "
                             f"finite and >= 0, got {p.near_range}")
        if not 0.0 <= p.near_pct < 100.0:
            raise ValueError(f"detector pin_down: near_pct must be in [0, 100), got {p.near_pct}")
        self._near = 1.0 - p.near_pct / 100.0  # a top's high is >= this x the reference high
        # memory: the lookback, the unbroken tops and the previous bar; replayed after a correction
        self.history_bars = max(type(self).history_bars, p.high_lookback + p.confirm_bars + 2)  # type: ignore[misc]
        self._on_low = p.break_on == "low"

    @property
    def warmup(self) -> int:
        return self.params.high_lookback + 1

    def _reset(self) -> None:
        self._reset_pending()
        self._t = -1
        self._highs: deque[float] = deque(maxlen=self.params.high_lookback)
        self._ranges: deque[float] = deque(maxlen=self.params.high_lookback)
        self._prev: Bar | None = None
        #: unbroken top candles, oldest first (at most confirm_bars):
        #: (index, open_time, open, high, low, close, reference high)
        self._tops: list[tuple[int, int, float, float, float, float, float]] = []

    def _signal(self, meta: SeriesMeta | None, open_time: int, price: float, lag: int,
                top: tuple[int, float, float, float, float, float]) -> Signal:
        p = self.params
        top_time, o, h, lo, c, ref_high = top
        spread = h - lo
        wick = (h - o) / spread if spread > 0.0 else 0.0
        body = (o - c) / spread if spread > 0.0 else 0.0
        speed = (p.confirm_bars - lag + 1) / p.confirm_bars
        features: dict[str, Any] = {
            "top_open_time": top_time, "top_high": h, "top_low": lo, "bars_to_break": lag,
            "upper_wick_ratio": wick, "body_ratio": body, "significant_high": max(ref_high, h),
            "evaluated_on": p.evaluate_on,
        }
        return self.make_signal(meta, open_time, signal_type="PIN_DOWN", direction="bearish",
                                score=100.0 * (0.4 * wick + 0.3 * body + 0.3 * speed), price=price,
                                features=features)

    def _evaluate_step(self, bar: Bar) -> list[Signal]:
        t = self._t = self._t + 1
        o, h, lo, c = bar.open, bar.high, bar.low, bar.close
        out: list[Signal] = []
        tops = self._tops
        if tops:
            probe = lo if self._on_low else c
            confirm = self.params.confirm_bars
            hit = None
            keep = []
            for top in tops:
                if probe < top[4]:
                    hit = top  # later tops overwrite earlier: the most recent wins
                elif t - top[0] < confirm:
                    keep.append(top)
            self._tops = keep
            if hit is not None:
                out.append(self._signal(self.meta, bar.open_time, c, t - hit[0], hit[1:]))
        highs = self._highs
        prev = self._prev
        p = self.params
        if t >= p.high_lookback and c < o and not (h > prev.high and lo < prev.low):  # type: ignore[union-attr]
            ref = max(highs)
            near = self._near
            is_top = h >= ref or (near < 1.0 and h >= near * ref)
            if not is_top and p.near_range > 0.0:
                is_top = h >= ref - p.near_range * (seq_sum(self._ranges) / p.high_lookback)
            if is_top:
                self._tops.append((t, bar.open_time, o, h, lo, c, ref))
        highs.append(h)
        self._ranges.append(h - lo)
        self._prev = bar
        return out

    def _evaluate_batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        n = len(bars)
        if n <= p.high_lookback:
            return []
        breaks = np.empty(n, dtype=np.int64)
        tops = np.empty(n, dtype=np.int64)
        refs = np.empty(n)
        k = _pin_down_kernel(bars.open, bars.high, bars.low, bars.close,
                             bars.low if self._on_low else bars.close, p.high_lookback, p.near_range,
                             self._near, p.confirm_bars, breaks, tops, refs)
        make = self.signal_maker(meta)
        return in_rounds(k, lambda i, j: self._signals(bars, make, breaks[i:j], tops[i:j], refs[i:j]))

    def _signals(self, bars: BarArrays, make: Any, kk: np.ndarray, jj: np.ndarray, refs: np.ndarray
                 ) -> list[Signal]:
        """:meth:`_signal` for the breaks at bars ``kk`` of the tops at ``jj``,
        column-wise: the ratios and the score on whole columns (the same float
        operations in the same order), then one dict and one record per break."""
        p = self.params
        o, h, lo = bars.open[jj], bars.high[jj], bars.low[jj]
        spread = h - lo
        wide = spread > 0.0
        safe = np.where(wide, spread, 1.0)
        wick = np.where(wide, (h - o) / safe, 0.0)
        body = np.where(wide, (o - bars.close[jj]) / safe, 0.0)
        lag = kk - jj
        speed = (p.confirm_bars - lag + 1) / p.confirm_bars
        score = 100.0 * (0.4 * wick + 0.3 * body + 0.3 * speed)
        evaluated_on = p.evaluate_on
        return [
            make(t, "PIN_DOWN", "bearish", sc, c, {
                "top_open_time": tt, "top_high": th, "top_low": tl, "bars_to_break": lg,
                "upper_wick_ratio": w, "body_ratio": b, "significant_high": sh, "evaluated_on": evaluated_on})
            for t, tt, lg, (sc, c, th, tl, w, b, sh) in zip(
                bars.open_time[kk].tolist(), bars.open_time[jj].tolist(), lag.tolist(),
                np.column_stack((score, bars.close[kk], h, lo, wick, body, np.maximum(refs, h))).tolist(),
                strict=True)
        ]
