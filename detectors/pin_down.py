"""Pin down: a bearish top candle near a significant high whose low is broken soon.

* **top candle** ``j``: bearish (``close < open``); its high within ``near_pct``
  percent (0.5) of the highest high of the ``high_lookback`` (20) bars before it and
  itself (``high >= (1 - near_pct / 100) * that high``); **not an outside bar**
  (not both ``high > high[j-1]`` and ``low < low[j-1]``);
* **break**: a later bar ``k`` with ``j < k <= j + confirm_bars`` (3) trading below the
  top candle's low (``break_on="low"``, default) or closing below it
  (``break_on="close"``); only the first break of a candle counts.

``PIN_DOWN`` (bearish) is emitted for bar ``k`` (the confirmation; features carry the
top candle's open time, high and low). When several top candles break on the same
bar the most recent one is reported. ``score = 100 * (0.4 * upper wick / range +
0.3 * body / range + 0.3 * speed)`` of the top candle, ``speed = (confirm_bars -
(k - j) + 1) / confirm_bars``.

Bars, not minutes: a gap is the next bar. ``evaluate_on``: "current" (default) or
"last_closed" (see :mod:`detectors.features.evaluate_on`). Warm-up: ``high_lookback + 1``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.evaluate_on import EvaluateOnDetector
from detectors.features.window import shift, trailing_max
from detectors.records import Signal


class PinDownParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    high_lookback: int = 20
    near_pct: float = 0.5
    confirm_bars: int = 3
    break_on: Literal["low", "close"] = "low"
    evaluate_on: str = "current"


class PinDown(EvaluateOnDetector):
    name = "pin_down"
    version = "1.0.0"
    Params = PinDownParams
    params: PinDownParams

    def _check_params(self) -> None:
        p = self.params
        self._check_evaluate_on()
        if p.high_lookback < 1 or p.confirm_bars < 1:
            raise ValueError("detector pin_down: high_lookback and confirm_bars must be >= 1")
        if not 0.0 <= p.near_pct < 100.0:
            raise ValueError(f"detector pin_down: near_pct must be in [0, 100), got {p.near_pct}")

    @property
    def warmup(self) -> int:
        return self.params.high_lookback + 1

    def _reset(self) -> None:
        self._reset_pending()
        self._t = -1
        self._highs: deque[float] = deque(maxlen=self.params.high_lookback)
        self._prev: Bar | None = None
        self._tops: deque[tuple[int, int, float, float, float, float, float]] = deque()

    def _is_top(self, o: float, h: float, lo: float, c: float, ref_high: float, h1: float, l1: float) -> bool:
        return c < o and h >= (1.0 - self.params.near_pct / 100.0) * max(ref_high, h) and not (h > h1 and lo < l1)

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
        p = self.params
        t = self._t = self._t + 1
        probe = bar.low if p.break_on == "low" else bar.close
        hit = None
        keep: deque = deque()
        for top in self._tops:  # (index, open_time, o, h, lo, c, ref_high); at most confirm_bars
            if probe < top[4]:
                hit = top  # later tops overwrite earlier: the most recent wins
            elif t - top[0] < p.confirm_bars:
                keep.append(top)
        self._tops = keep
        out: list[Signal] = []
        if hit is not None:
            out.append(self._signal(self.meta, bar.open_time, bar.close, t - hit[0], hit[1:]))
        prev = self._prev
        if t >= self.warmup - 1 and prev is not None and len(self._highs) == p.high_lookback:
            ref = max(self._highs)
            if self._is_top(bar.open, bar.high, bar.low, bar.close, ref, prev.high, prev.low):
                self._tops.append((t, bar.open_time, bar.open, bar.high, bar.low, bar.close, ref))
        self._highs.append(bar.high)
        self._prev = bar
        return out

    def _evaluate_batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        n = len(bars)
        o, h, lo, c = bars.open, bars.high, bars.low, bars.close
        ref = trailing_max(h, p.high_lookback)
        h1, l1 = shift(h, 1), shift(lo, 1)
        with np.errstate(invalid="ignore"):
            tops = (c < o) & (h >= (1.0 - p.near_pct / 100.0) * np.fmax(ref, h)) & ~((h > h1) & (lo < l1))
        tops &= ~np.isnan(ref)
        tops[: self.warmup - 1] = False
        probe = lo if p.break_on == "low" else c
        confirmed: dict[int, int] = {}
        for j in np.nonzero(tops)[0].tolist():
            for k in range(j + 1, min(n, j + p.confirm_bars + 1)):
                if probe[k] < lo[j]:
                    confirmed[k] = j  # j ascending: the most recent top wins
                    break
        out: list[Signal] = []
        for k in sorted(confirmed):
            j = confirmed[k]
            top = (int(bars.open_time[j]), float(o[j]), float(h[j]), float(lo[j]), float(c[j]), float(ref[j]))
            out.append(self._signal(meta, int(bars.open_time[k]), float(c[k]), k - j, top))
        return out
