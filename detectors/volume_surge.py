"""Volume surge: bar volume at least ``threshold_sigma`` standard deviations above
the mean of the previous ``window`` bars, scored by range expansion and close
position.

Definition (both paths):

* the window holds the ``window`` valid bars before the current one (bars, not
  minutes: a gap in the data does not pad the window with zeros);
* ``mean`` and ``std`` (population, ddof=0) are taken over that window's volume;
  a window with ``std == 0`` (perfectly flat volume) carries no information and
  never signals;
* ``z = (volume - mean) / std``; a signal fires when ``z >= threshold_sigma`` and
  ``volume >= min_volume``;
* ``range_ratio = (high - low) / mean(high - low over the window)``;
  ``close_pos = (close - low) / (high - low)`` (0.5 for a flat bar);
* ``score = 100 * (0.5 * min(1, z / (2 * threshold_sigma))
  + 0.25 * min(1, range_ratio / 3) + 0.25 * |2 * close_pos - 1|)``;
* direction: bullish when ``close_pos >= 0.6``, bearish when ``<= 0.4``, else
  neutral. ``signal_type`` is ``VOLUME_SURGE``.
"""

from __future__ import annotations

from collections import deque

import msgspec
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.records import Signal


class VolumeSurgeParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    window: int = 20
    threshold_sigma: float = 4.0
    min_volume: float = 0.0


class VolumeSurge(Detector):
    name = "volume_surge"
    version = "1.0.0"
    Params = VolumeSurgeParams

    def _check_params(self) -> None:
        p = self.params
        if p.window < 2:
            raise ValueError(f"detector volume_surge: window must be >= 2, got {p.window}")
        if p.threshold_sigma <= 0:
            raise ValueError(f"detector volume_surge: threshold_sigma must be > 0, got {p.threshold_sigma}")
        if p.min_volume < 0:
            raise ValueError(f"detector volume_surge: min_volume must be >= 0, got {p.min_volume}")
        self.history_bars = max(type(self).history_bars, p.window + 1)  # type: ignore[misc]

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
        out: list[Signal] = []
        if len(self._vol) == self.params.window:
            vols = np.fromiter(self._vol, dtype=np.float64, count=self.params.window)
            rngs = np.fromiter(self._rng, dtype=np.float64, count=self.params.window)
            sig = self._evaluate(self.meta, bar.open_time, bar.open, bar.high, bar.low, bar.close,
                                 bar.volume, float(vols.mean()), float(vols.std()), float(rngs.mean()))
            if sig is not None:
                out.append(sig)
        self._vol.append(bar.volume)
        self._rng.append(bar.high - bar.low)
        return out

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        w = self.params.window
        n = len(bars)
        if n <= w:
            return []
        vol_win = sliding_window_view(bars.volume, w)[:-1]  # window ending before bar i (i >= w)
        rng = bars.high - bars.low
        rng_win = sliding_window_view(rng, w)[:-1]
        mean = vol_win.mean(axis=1)
        std = vol_win.std(axis=1)
        mean_rng = rng_win.mean(axis=1)
        cur = bars.volume[w:]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(std > 0, (cur - mean) / std, -np.inf)
        hits = np.nonzero((z >= self.params.threshold_sigma) & (cur >= self.params.min_volume))[0]
        out: list[Signal] = []
        for j in hits:
            i = j + w
            sig = self._evaluate(meta, int(bars.open_time[i]), float(bars.open[i]), float(bars.high[i]),
                                 float(bars.low[i]), float(bars.close[i]), float(bars.volume[i]),
                                 float(mean[j]), float(std[j]), float(mean_rng[j]))
            if sig is not None:
                out.append(sig)
        return out
