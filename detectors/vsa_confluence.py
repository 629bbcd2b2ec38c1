"""VSA confluence: high volume + spread breakout + momentum breakout on one bar.

At bar ``t`` (windows end before ``t``; bars, not minutes):

* **high volume**: ``volume_ratio = volume / mean volume of the window (20) bars``
  ``>= volume_mult`` (2.0);
* **spread breakout**: ``high - low`` above the largest spread of the
  ``spread_lookback`` (10) bars before;
* **momentum breakout**: close above the highest close (bullish) / below the lowest
  close (bearish) of the ``momentum_lookback`` (10) bars before;
* **close off low** ``= 100 * (close - low) / (high - low)``: at least
  ``min_close_off_low`` (60) for bullish, at most ``100 - min_close_off_low`` for
  bearish.

``VSA_CONFLUENCE`` is emitted when all hold. Component scores (0-100):
``volume_score = min(100, 50 * volume_ratio / volume_mult)``, ``spread_score =
min(100, 50 * spread / previous max spread)``, ``momentum_score = min(100, 50 + 5000
* |close / previous extreme close - 1|)`` (a 1% break scores 100), ``close_score =``
close off low (bullish) or ``100 -`` it (bearish); ``score`` is their mean.

``evaluate_on``: "current" (default) or "last_closed" (see
:mod:`detectors.features.evaluate_on`). Flat windows (mean volume 0) never signal.
Warm-up: ``max(window, spread_lookback, momentum_lookback)``.

Streaming reads the spread and close windows only on a high-volume bar; batch
finds those bars, with the same sequential volume sum, in one compiled kernel
(:func:`_confluence_kernel`) and evaluates them with the same code as streaming.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.evaluate_on import EvaluateOnDetector
from detectors.features.trailing import sequential_sum, shared_trailing_mean
from detectors.indicators._jit import kernel
from detectors.records import Signal

#: direction by "bullish?"
_DIRECTIONS = np.array(["bearish", "bullish"], dtype=object)


class VSAConfluenceParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    window: int = 20
    volume_mult: float = 2.0
    spread_lookback: int = 10
    momentum_lookback: int = 10
    min_close_off_low: float = 60.0
    evaluate_on: str = "current"


@kernel
def _confluence_kernel(h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, means: np.ndarray,
                       spread_lookback: int, momentum_lookback: int, warmup: int, volume_mult: float,
                       hits: np.ndarray, windows: np.ndarray) -> int:
    """Bars from ``warmup`` on with high volume, a spread breakout and a close beyond
    the close window, given the trailing mean volume of every bar (``means``: the
    streaming ``seq_sum(window) / window``); ``windows[k]`` = mean volume, previous
    max spread, highest and lowest close for candidate ``k`` (the close-off-low test
    is left to the signal builder). Returns the candidate count."""
    k = 0
    for i in range(warmup, len(c)):
        mean_v = means[i]
        if not mean_v > 0.0 or v[i] / mean_v < volume_mult:
            continue
        spread = h[i] - lo[i]
        max_spread = h[i - spread_lookback] - lo[i - spread_lookback]
        for j in range(i - spread_lookback + 1, i):
            max_spread = max(max_spread, h[j] - lo[j])
        if not (spread > 0.0 and spread > max_spread):
            continue
        hi_close = c[i - momentum_lookback]
        lo_close = hi_close
        for j in range(i - momentum_lookback + 1, i):
            hi_close = max(hi_close, c[j])
            lo_close = min(lo_close, c[j])
        if c[i] > hi_close or c[i] < lo_close:
            hits[k] = i
            windows[k, 0] = mean_v
            windows[k, 1] = max_spread
            windows[k, 2] = hi_close
            windows[k, 3] = lo_close
            k += 1
    return k


class VSAConfluence(EvaluateOnDetector):
    name = "vsa_confluence"
    version = "1.0.0"
    Params = VSAConfluenceParams
    params: VSAConfluenceParams

    def _check_params(self) -> None:
        p = self.params
        self._check_evaluate_on()
        if p.window < 2 or p.spread_lookback < 1 or p.momentum_lookback < 1:
            raise ValueError("detector vsa_confluence: window >= 2, spread_lookback and momentum_lookback >= 1")
        if p.volume_mult <= 0 or not 50.0 <= p.min_close_off_low <= 100.0:
            raise ValueError("detector vsa_confluence: volume_mult > 0 and min_close_off_low in [50, 100]")
        self._warmup = max(p.window, p.spread_lookback, p.momentum_lookback)
        self._window, self._volume_mult = p.window, p.volume_mult

    @property
    def warmup(self) -> int:
        return self._warmup

    def _reset(self) -> None:
        p = self.params
        self._reset_pending()
        self._seen = 0
        self._vols: deque[float] = deque(maxlen=p.window)
        self._spreads: deque[float] = deque(maxlen=p.spread_lookback)
        self._closes: deque[float] = deque(maxlen=p.momentum_lookback)

    def _evaluate(self, meta: SeriesMeta | None, open_time: int, h: float, lo: float, c: float,
                  v: float, mean_v: float, max_spread: float, hi_close: float,
                  lo_close: float) -> Signal | None:
        p = self.params
        spread = h - lo
        if mean_v <= 0.0 or spread <= 0.0:
            return None
        ratio = v / mean_v
        if ratio < p.volume_mult or not spread > max_spread:
            return None
        col = 100.0 * (c - lo) / spread
        if c > hi_close and col >= p.min_close_off_low:
            direction, ref, close_score = "bullish", hi_close, col
        elif c < lo_close and col <= 100.0 - p.min_close_off_low:
            direction, ref, close_score = "bearish", lo_close, 100.0 - col
        else:
            return None
        volume_score = min(100.0, 50.0 * ratio / p.volume_mult)
        spread_score = min(100.0, 50.0 * spread / max_spread) if max_spread > 0.0 else 100.0
        momentum_score = min(100.0, 50.0 + 5000.0 * abs(c / ref - 1.0))
        score = (volume_score + spread_score + momentum_score + close_score) / 4.0
        features: dict[str, Any] = {
            "volume_ratio": ratio, "close_off_low_pct": col, "volume_score": volume_score,
            "spread_score": spread_score, "momentum_score": momentum_score, "close_score": close_score,
            "previous_max_spread": max_spread, "breakout_close": ref,
            "evaluated_on": p.evaluate_on,
        }
        return self.make_signal(meta, open_time, signal_type="VSA_CONFLUENCE", direction=direction,
                                score=score, price=c, features=features)

    def _evaluate_step(self, bar: Bar) -> list[Signal]:
        out: list[Signal] = []
        v = bar.volume
        vols = self._vols
        if self._seen >= self._warmup:
            mean_v = sequential_sum(vols, 0.0) / self._window
            if mean_v > 0.0 and v / mean_v >= self._volume_mult:  # else _evaluate rejects it
                closes = self._closes
                sig = self._evaluate(self.meta, bar.open_time, bar.high, bar.low, bar.close, v, mean_v,
                                     max(self._spreads), max(closes), min(closes))
                if sig is not None:
                    out.append(sig)
        else:
            self._seen += 1
        vols.append(v)
        self._spreads.append(bar.high - bar.low)
        self._closes.append(bar.close)
        return out

    def _evaluate_batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        n = len(bars)
        if n <= self._warmup:
            return []
        hits = np.empty(n, dtype=np.int64)
        windows = np.empty((n, 4))
        k = _confluence_kernel(bars.high, bars.low, bars.close, bars.volume,
                               shared_trailing_mean(bars, "volume", p.window), p.spread_lookback,
                               p.momentum_lookback, self._warmup, float(p.volume_mult), hits, windows)
        if not k:
            return []
        # _evaluate on whole columns (same operations, same order); the kernel checked
        # volume and spread, the close-off-low test picks the signals among its candidates
        idx = hits[:k]
        mean_v, max_spread, hi_close, lo_close = windows[:k].T
        h, lo, c, v = bars.high[idx], bars.low[idx], bars.close[idx], bars.volume[idx]
        spread = h - lo
        ratio = v / mean_v
        col = 100.0 * (c - lo) / spread
        bullish = (c > hi_close) & (col >= p.min_close_off_low)
        keep = bullish | ((c < lo_close) & (col <= 100.0 - p.min_close_off_low))
        ref = np.where(bullish, hi_close, lo_close)
        close_score = np.where(bullish, col, 100.0 - col)
        volume_score = np.minimum(100.0, 50.0 * ratio / p.volume_mult)
        with np.errstate(divide="ignore", invalid="ignore"):
            spread_score = np.where(max_spread > 0.0, np.minimum(100.0, 50.0 * spread / max_spread), 100.0)
        momentum_score = np.minimum(100.0, 50.0 + 5000.0 * np.abs(c / ref - 1.0))
        score = (volume_score + spread_score + momentum_score + close_score) / 4.0
        make = self.signal_maker(meta)
        evaluated_on = p.evaluate_on
        return [
            make(t, "VSA_CONFLUENCE", direction, sc, price, {
                "volume_ratio": vr, "close_off_low_pct": cl, "volume_score": vs, "spread_score": ss,
                "momentum_score": ms, "close_score": cs, "previous_max_spread": mx, "breakout_close": br,
                "evaluated_on": evaluated_on})
            for t, direction, (sc, price, vr, cl, vs, ss, ms, cs, mx, br) in zip(
                bars.open_time[idx[keep]].tolist(), _DIRECTIONS[bullish[keep].view(np.int8)].tolist(),
                np.column_stack((score, c, ratio, col, volume_score, spread_score, momentum_score, close_score,
                                 max_spread, ref))[keep].tolist(), strict=True)
        ]
