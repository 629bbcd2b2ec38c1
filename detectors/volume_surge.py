"""Volume surge: bar volume at least ``threshold_sigma`` standard deviations above
the mean of the previous ``window`` bars, scored by range expansion and close
position.

Definition (both paths):

* the window holds the ``window`` valid bars before the current one (bars, not
  minutes: a gap in the data does not pad the window with zeros);
* ``mean`` and ``std`` (population, ddof=0) are taken over that window's volume,
  two-pass and in sequence: ``mean = (((0 + v0) + v1) + ...) / window``, then
  ``std = sqrt(sum of (v - mean) * (v - mean), added oldest first, / window)``
  (both paths do exactly these operations, so they agree to the last bit; no
  running sums, which drift); a window with ``std == 0`` (perfectly flat volume)
  carries no information and never signals;
* ``z = (volume - mean) / std``; a signal fires when ``z >= threshold_sigma`` and
  ``volume >= min_volume``;
* ``range_ratio = (high - low) / mean(high - low over the window)`` (the same
  sequential sum);
  ``close_pos = (close - low) / (high - low)`` (0.5 for a flat bar);
* ``score = 100 * (0.5 * min(1, z / (2 * threshold_sigma))
  + 0.25 * min(1, range_ratio / 3) + 0.25 * |2 * close_pos - 1|)``;
* direction: bullish when ``close_pos >= 0.6``, bearish when ``<= 0.4``, else
  neutral. ``signal_type`` is ``VOLUME_SURGE``.

Streaming keeps two ring buffers of ``window`` floats; a bar whose volume is not
above the mean (z <= 0, most bars) skips the deviation pass. Batch runs the same
loops in one compiled kernel (:func:`_surge_kernel`) and builds signals for its
hits only.
"""

from __future__ import annotations

import math
from collections import deque

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.features.trailing import sequential_sum, shared_trailing_mean
from detectors.indicators._jit import kernel
from detectors.records import Signal


@kernel
def _surge_kernel(vol: np.ndarray, means: np.ndarray, w: int, threshold: float, min_volume: float,
                  hits: np.ndarray, stats: np.ndarray) -> int:
    """Bars ``i`` where the surge fires, given the trailing mean volume of every bar
    (``means``: the streaming ``seq_sum(window) / window``); ``stats[k]`` = mean and
    std of the window before hit ``k``. Same operations, in the same order, as
    :meth:`VolumeSurge._step`. Returns the number of hits."""
    k = 0
    for i in range(w, len(vol)):
        mean = means[i]
        v = vol[i]
        if v > mean and v >= min_volume:
            ss = 0.0
            for j in range(i - w, i):
                d = vol[j] - mean
                ss += d * d
            std = math.sqrt(ss / w)
            if std > 0.0 and (v - mean) / std >= threshold:
                hits[k] = i
                stats[k, 0] = mean
                stats[k, 1] = std
                k += 1
    return k


#: direction by 0 (neutral), 1 (close_pos >= 0.6), 2 (close_pos <= 0.4)
_DIRECTIONS = np.array(["neutral", "bullish", "bearish"], dtype=object)


class VolumeSurgeParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    window: int = 20
    threshold_sigma: float = 4.0
    min_volume: float = 0.0


class VolumeSurge(Detector):
    name = "volume_surge"
    version = "1.0.0"
    Params = VolumeSurgeParams
    params: VolumeSurgeParams

    def _check_params(self) -> None:
        p = self.params
        if p.window < 2:
            raise ValueError(f"detector volume_surge: window must be >= 2, got {p.window}")
        if p.threshold_sigma <= 0:
            raise ValueError(f"detector volume_surge: threshold_sigma must be > 0, got {p.threshold_sigma}")
        if p.min_volume < 0:
            raise ValueError(f"detector volume_surge: min_volume must be >= 0, got {p.min_volume}")
        self.history_bars = max(type(self).history_bars, p.window + 1)  # type: ignore[misc]
        self._window, self._min_volume, self._threshold = p.window, p.min_volume, p.threshold_sigma

    @property
    def warmup(self) -> int:
        return self.params.window

    def _reset(self) -> None:
        w = self.params.window
        self._vol: deque[float] = deque(maxlen=w)
        self._rng: deque[float] = deque(maxlen=w)

    def _evaluate(self, meta: SeriesMeta | None, open_time: int, o: float, h: float, lo: float,
                  c: float, v: float, mean: float, std: float, mean_rng: float) -> Signal | None:
        p = self.params
        if std <= 0.0 or v < p.min_volume:
            return None
        z = (v - mean) / std
        if z < p.threshold_sigma:
            return None
        spread = h - lo
        close_pos = (c - lo) / spread if spread > 0 else 0.5
        range_ratio = spread / mean_rng if mean_rng > 0 else 3.0
        score = 100.0 * (
            0.5 * min(1.0, z / (2.0 * p.threshold_sigma))
            + 0.25 * min(1.0, range_ratio / 3.0)
            + 0.25 * abs(2.0 * close_pos - 1.0)
        )
        direction = "bullish" if close_pos >= 0.6 else "bearish" if close_pos <= 0.4 else "neutral"
        return self.make_signal(
            meta, open_time, signal_type="VOLUME_SURGE", direction=direction, score=score, price=c,
            features={
                "zscore": z, "volume": v, "volume_mean": mean, "volume_std": std,
                "range_ratio": range_ratio, "close_pos": close_pos,
            },
        )

    def _step(self, bar: Bar) -> list[Signal]:
        vol = self._vol
        v = bar.volume
        w = self._window
        out: list[Signal] = []
        if len(vol) == w:
            mean = sequential_sum(vol, 0.0) / w
            if v > mean and v >= self._min_volume:  # z <= 0 below the mean: no signal
                ss = 0.0
                for x in vol:
                    d = x - mean
                    ss += d * d
                std = math.sqrt(ss / w)
                if std > 0.0 and (v - mean) / std >= self._threshold:
                    sig = self._evaluate(self.meta, bar.open_time, bar.open, bar.high, bar.low, bar.close,
                                         v, mean, std, sequential_sum(self._rng, 0.0) / w)
                    if sig is not None:
                        out.append(sig)
        vol.append(v)
        self._rng.append(bar.high - bar.low)
        return out

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        n = len(bars)
        if n <= p.window:
            return []
        hits = np.empty(n, dtype=np.int64)
        stats = np.empty((n, 2))
        k = _surge_kernel(bars.volume, shared_trailing_mean(bars, "volume", p.window), p.window,
                          float(p.threshold_sigma), float(p.min_volume), hits, stats)
        if not k:
            return []
        # _evaluate on whole columns (the kernel's hits all pass its checks; same operations, same order)
        idx = hits[:k]
        mean, std = stats[:k].T
        h, lo, c, v = bars.high[idx], bars.low[idx], bars.close[idx], bars.volume[idx]
        mean_rng = shared_trailing_mean(bars, "spread", p.window)[idx]
        z = (v - mean) / std
        spread = h - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            close_pos = np.where(spread > 0, (c - lo) / spread, 0.5)
            range_ratio = np.where(mean_rng > 0, spread / mean_rng, 3.0)
        score = 100.0 * (0.5 * np.minimum(1.0, z / (2.0 * p.threshold_sigma))
                         + 0.25 * np.minimum(1.0, range_ratio / 3.0)
                         + 0.25 * np.abs(2.0 * close_pos - 1.0))
        direction = np.where(close_pos >= 0.6, 1, np.where(close_pos <= 0.4, 2, 0))
        make = self.signal_maker(meta)
        return [
            make(t, "VOLUME_SURGE", d, sc, price, {
                "zscore": zs, "volume": vol, "volume_mean": mn, "volume_std": sd, "range_ratio": rr,
                "close_pos": cp})
            for t, d, (sc, price, zs, vol, mn, sd, rr, cp) in zip(
                bars.open_time[idx].tolist(), _DIRECTIONS[direction].tolist(),
                np.column_stack((score, c, z, v, mean, std, range_ratio, close_pos)).tolist(), strict=True)
        ]
