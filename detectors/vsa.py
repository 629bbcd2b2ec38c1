"""VSA bars: breakout, stop, reversal, start, loaded and test bars (Volume Spread
Analysis), one detector emitting the bar type as ``signal_type``.

Inputs at bar ``t`` (bars, not minutes; every window ends before ``t``):

* ``vr`` volume ratio = ``volume / mean volume`` of the ``window`` (20) bars before;
* ``sr`` spread ratio = ``(high - low) / mean spread`` of the same bars;
* ``cp`` close position = ``(close - low) / (high - low)`` (0.5 on a flat bar);
* ``trend`` context = sign of ``close[t-1] - close[t-1-trend_bars]`` (trend_bars 10);
* ``hh`` / ``ll`` = highest high / lowest low of the ``breakout_lookback`` (10) bars
  before; ``prev`` = bar ``t-1``; ``quiet`` = each of the ``quiet_bars`` (3) bars
  before had volume below the mean.

Bar types (parameters in brackets, defaults after them), bullish / bearish:

* ``BREAKOUT_BAR``: ``vr >= high_volume`` [1.5], ``sr >= wide_spread`` [1.5], and
  ``cp >= close_high`` [0.7] with ``close > hh`` / ``cp <= close_low`` [0.3] with
  ``close < ll``.
* ``STOP_BAR`` (stopping volume): ``vr >= very_high_volume`` [2.0], ``sr >= 1``; in a
  downtrend, a lower low than ``prev`` closing in the upper half (``cp >= 0.5``) /
  in an uptrend, a higher high closing in the lower half.
* ``REVERSAL_BAR``: ``vr >= high_volume``, ``sr >= reversal_spread`` [1.2]; in a
  downtrend, a lower low than ``prev``, ``cp >= close_high`` and close above
  ``prev`` close / the mirror in an uptrend.
* ``START_BAR``: after a quiet stretch, ``vr >= start_volume`` [1.2], ``sr >= 1``,
  an up bar with ``cp >= 0.5`` / a down bar with ``cp <= 0.5``.
* ``LOADED_BAR`` (effort without result): ``vr >= high_volume`` and
  ``sr <= narrow_spread`` [0.8]; bullish in a downtrend (absorbed selling), bearish
  in an uptrend.
* ``TEST_BAR``: ``vr <= low_volume`` [0.7], volume below both previous bars,
  ``sr <= narrow_spread``; in an uptrend a lower low than ``prev`` closing in the
  upper half (supply tested, none came) / in a downtrend a higher high closing in
  the lower half (no demand).

A bar matching several types is emitted once, with the first of REVERSAL, STOP,
BREAKOUT, START, LOADED, TEST as ``signal_type`` and all matches in
``features.matched``. ``score = 100 * (0.4 * volume + 0.3 * spread + 0.3 * close)``
components (0-1): volume ``min(1, vr / (2 * high_volume))`` (test: ``1 - vr``),
spread ``min(1, sr / (2 * wide_spread))`` (loaded, test: ``1 - sr`` floored at 0),
close ``cp`` (bullish) or ``1 - cp`` (bearish).

``evaluate_on``: "current" (default) or "last_closed", see
:mod:`detectors.features.evaluate_on`. A flat window (mean volume or spread 0)
never signals. Warm-up: ``max(window, breakout_lookback, trend_bars + 1, quiet_bars)``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.evaluate_on import EvaluateOnDetector
from detectors.features.window import seq_sum, shift, trailing_max, trailing_mean, trailing_min
from detectors.records import Signal


class VSAParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    window: int = 20
    trend_bars: int = 10
    breakout_lookback: int = 10
    quiet_bars: int = 3
    high_volume: float = 1.5
    very_high_volume: float = 2.0
    start_volume: float = 1.2
    low_volume: float = 0.7
    wide_spread: float = 1.5
    reversal_spread: float = 1.2
    narrow_spread: float = 0.8
    close_high: float = 0.7
    close_low: float = 0.3
    evaluate_on: str = "current"


_ORDER = ("REVERSAL_BAR", "STOP_BAR", "BREAKOUT_BAR", "START_BAR", "LOADED_BAR", "TEST_BAR")


class VSA(EvaluateOnDetector):
    name = "vsa"
    version = "1.0.0"
    Params = VSAParams
    params: VSAParams

    def _check_params(self) -> None:
        p = self.params
        self._check_evaluate_on()
        for f in ("window", "trend_bars", "breakout_lookback", "quiet_bars"):
            if getattr(p, f) < (2 if f == "window" else 1):
                raise ValueError(f"detector vsa: {f} must be positive (window >= 2), got {getattr(p, f)}")
        if not 0.0 <= p.close_low < p.close_high <= 1.0:
            raise ValueError("detector vsa: need 0 <= close_low < close_high <= 1")
        if not p.low_volume < 1.0 <= p.start_volume <= p.high_volume <= p.very_high_volume:
            raise ValueError("detector vsa: need low_volume < 1 <= start_volume <= high_volume <= very_high_volume")
        if not 0 < p.narrow_spread < 1.0 <= p.reversal_spread <= p.wide_spread:
            raise ValueError("detector vsa: need 0 < narrow_spread < 1 <= reversal_spread <= wide_spread")
        self._keep = max(p.breakout_lookback, p.trend_bars + 1, p.quiet_bars, 2)
        self.history_bars = max(type(self).history_bars, p.window + self._keep + 2)  # type: ignore[misc]

    @property
    def warmup(self) -> int:
        p = self.params
        return max(p.window, p.breakout_lookback, p.trend_bars + 1, p.quiet_bars)

    def _reset(self) -> None:
        self._reset_pending()
        self._vols: deque[float] = deque(maxlen=self.params.window)
        self._spreads: deque[float] = deque(maxlen=self.params.window)
        self._bars: deque[Bar] = deque(maxlen=self._keep)
        self._highs: deque[float] = deque(maxlen=self.params.breakout_lookback)
        self._lows: deque[float] = deque(maxlen=self.params.breakout_lookback)
        self._recent_vols: deque[float] = deque(maxlen=self.params.quiet_bars)
        self._seen = 0

    # -- one definition for both paths -------------------------------------
    def _evaluate(self, meta: SeriesMeta | None, open_time: int, o: float, h: float, lo: float,
                  c: float, v: float, mean_v: float, mean_s: float, trend_ref: float, c1: float,
                  h1: float, l1: float, v1: float, v2: float, hh: float, ll: float,
                  quiet_max: float) -> Signal | None:
        p = self.params
        if mean_v <= 0.0 or mean_s <= 0.0:
            return None
        spread = h - lo
        vr = v / mean_v
        sr = spread / mean_s
        cp = (c - lo) / spread if spread > 0.0 else 0.5
        trend = 1 if c1 > trend_ref else -1 if c1 < trend_ref else 0
        matched: list[tuple[str, int]] = []
        if vr >= p.high_volume and sr >= p.reversal_spread:
            if trend < 0 and lo < l1 and cp >= p.close_high and c > c1:
                matched.append(("REVERSAL_BAR", 1))
            elif trend > 0 and h > h1 and cp <= p.close_low and c < c1:
                matched.append(("REVERSAL_BAR", -1))
        if vr >= p.very_high_volume and sr >= 1.0:
            if trend < 0 and lo < l1 and cp >= 0.5:
                matched.append(("STOP_BAR", 1))
            elif trend > 0 and h > h1 and cp <= 0.5:
                matched.append(("STOP_BAR", -1))
        if vr >= p.high_volume and sr >= p.wide_spread:
            if cp >= p.close_high and c > hh:
                matched.append(("BREAKOUT_BAR", 1))
            elif cp <= p.close_low and c < ll:
                matched.append(("BREAKOUT_BAR", -1))
        if quiet_max < mean_v and vr >= p.start_volume and sr >= 1.0:
            if c > o and cp >= 0.5:
                matched.append(("START_BAR", 1))
            elif c < o and cp <= 0.5:
                matched.append(("START_BAR", -1))
        if vr >= p.high_volume and sr <= p.narrow_spread and trend != 0:
            matched.append(("LOADED_BAR", -trend))
        if vr <= p.low_volume and v < v1 and v < v2 and sr <= p.narrow_spread:
            if trend > 0 and lo < l1 and cp >= 0.5:
                matched.append(("TEST_BAR", 1))
            elif trend < 0 and h > h1 and cp <= 0.5:
                matched.append(("TEST_BAR", -1))
        if not matched:
            return None
        kind, sign = matched[0]
        if kind == "TEST_BAR":
            vol_c = max(0.0, 1.0 - vr)
        else:
            vol_c = min(1.0, vr / (2.0 * p.high_volume))
        if kind in ("LOADED_BAR", "TEST_BAR"):
            spr_c = max(0.0, 1.0 - sr)
        else:
            spr_c = min(1.0, sr / (2.0 * p.wide_spread))
        close_c = cp if sign > 0 else 1.0 - cp
        score = 100.0 * (0.4 * vol_c + 0.3 * spr_c + 0.3 * close_c)
        features: dict[str, Any] = {
            "bar_type": kind, "matched": [m[0] for m in matched], "volume_ratio": vr,
            "spread_ratio": sr, "close_position": cp, "trend": trend,
            "evaluated_on": p.evaluate_on,
        }
        return self.make_signal(meta, open_time, signal_type=kind,
                                direction="bullish" if sign > 0 else "bearish", score=score,
                                price=c, features=features)

    def _evaluate_step(self, bar: Bar) -> list[Signal]:
        p = self.params
        out: list[Signal] = []
        bars = self._bars
        if self._seen >= self.warmup:
            prev = bars[-1]
            hh = max(self._highs)
            ll = min(self._lows)
            quiet_max = max(self._recent_vols)
            sig = self._evaluate(self.meta, bar.open_time, bar.open, bar.high, bar.low, bar.close,
                                 bar.volume, seq_sum(self._vols) / p.window,
                                 seq_sum(self._spreads) / p.window,
                                 bars[-1 - p.trend_bars].close, prev.close, prev.high, prev.low,
                                 prev.volume, bars[-2].volume, hh, ll, quiet_max)
            if sig is not None:
                out.append(sig)
        self._seen += 1
        self._vols.append(bar.volume)
        self._spreads.append(bar.high - bar.low)
        bars.append(bar)
        self._highs.append(bar.high)
        self._lows.append(bar.low)
        self._recent_vols.append(bar.volume)
        return out

    def _evaluate_batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        o, h, lo, c, v = bars.open, bars.high, bars.low, bars.close, bars.volume
        mean_v = trailing_mean(v, p.window)
        mean_s = trailing_mean(h - lo, p.window)
        with np.errstate(invalid="ignore", divide="ignore"):
            vr = v / mean_v
            cand = (vr >= p.start_volume) | (vr <= p.low_volume)
        cand[: self.warmup] = False
        if not cand.any():
            return []
        trend_ref = shift(c, p.trend_bars + 1)
        c1, h1, l1, v1, v2 = shift(c, 1), shift(h, 1), shift(lo, 1), shift(v, 1), shift(v, 2)
        hh = trailing_max(h, p.breakout_lookback)
        ll = trailing_min(lo, p.breakout_lookback)
        qmax = trailing_max(v, p.quiet_bars)
        out: list[Signal] = []
        for i in np.nonzero(cand)[0]:
            sig = self._evaluate(meta, int(bars.open_time[i]), *(float(a[i]) for a in (
                o, h, lo, c, v, mean_v, mean_s, trend_ref, c1, h1, l1, v1, v2, hh, ll, qmax)))
            if sig is not None:
                out.append(sig)
        return out
