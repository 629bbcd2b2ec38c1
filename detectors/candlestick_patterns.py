"""Candlestick patterns: fifteen classic patterns, one signal per bar that
completes at least one of them.

The pattern definitions live in :mod:`detectors.patterns.candles` (read its
docstring for each exact rule); they are written once for scalars and numpy
arrays, so the streaming and batch paths agree bit for bit.

Signals. Several patterns can complete on the same bar (a doji is often also a
hammer). A signal's id is derived from (series, detector, candle open time), so
two signals for one bar would collide and consumers would drop one of them as a
duplicate; this detector therefore emits ONE signal per bar:

* ``signal_type``: the highest-priority pattern that completed (three-bar, then
  two-bar, then single-bar patterns; order of ``PATTERNS``), e.g. ``HAMMER``;
* ``direction``: that pattern's direction;
* ``score = base + (100 - base) * min(1, |trend_pct| / trend_full)`` where
  ``base`` is the pattern's base score and ``trend_pct`` the move over the
  ``trend_lookback`` bars before the pattern (0 for the doji, which needs no
  trend) - a reversal pattern after a larger move scores higher;
* ``features``: ``patterns`` (every pattern that completed, in priority
  order), ``bullish`` / ``bearish`` counts, ``trend_pct``, ``body_ratio`` and
  ``volume_ratio`` (bar volume over the previous bar's; 0 when that is 0).

Parameters: ``trend_lookback`` 5, ``trend_full`` 0.03 (a 3% prior move gives the
full trend bonus), ``doji_body`` 0.1, ``small_body`` 0.3, ``long_body`` 0.6,
``shadow_mult`` 2.0, ``tiny_shadow`` 0.1, ``patterns`` (names to report; empty =
all). Warm-up: ``trend_lookback + 4`` bars (three-bar patterns need the trend
before their first bar).

Gaps: patterns are defined over consecutive *valid* bars (bars, not minutes);
invalid bars are dropped by the base class and never form part of a pattern.
"""

from __future__ import annotations

from collections import deque

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.patterns.candles import BODY, PATTERNS, RNG, could_match, match, shape
from detectors.patterns.exact_state import ExactStateMixin
from detectors.records import Signal


class CandlestickParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    trend_lookback: int = 5
    trend_full: float = 0.03
    doji_body: float = 0.1
    small_body: float = 0.3
    long_body: float = 0.6
    shadow_mult: float = 2.0
    tiny_shadow: float = 0.1
    patterns: list[str] = msgspec.field(default_factory=list)


class CandlestickPatterns(ExactStateMixin, Detector):
    name = "candlestick_patterns"
    version = "1.0.0"
    Params = CandlestickParams

    def _check_params(self) -> None:
        p = self.params
        if p.trend_lookback < 1:
            raise ValueError(f"detector {self.name}: trend_lookback must be >= 1, got {p.trend_lookback}")
        if p.trend_full <= 0:
            raise ValueError(f"detector {self.name}: trend_full must be > 0, got {p.trend_full}")
        if not (0 < p.doji_body <= p.small_body < p.long_body <= 1):
            raise ValueError(
                f"detector {self.name}: need 0 < doji_body <= small_body < long_body <= 1, got "
                f"{p.doji_body}, {p.small_body}, {p.long_body}")
        if p.shadow_mult <= 0 or not (0 <= p.tiny_shadow < 1):
            raise ValueError(f"detector {self.name}: shadow_mult must be > 0 and 0 <= tiny_shadow < 1")
        unknown = sorted(set(p.patterns) - set(PATTERNS))
        if unknown:
            raise ValueError(f"detector {self.name}: unknown pattern(s) {unknown}; known: {list(PATTERNS)}")
        self._wanted = [n for n in PATTERNS if not p.patterns or n in p.patterns]

    @property
    def warmup(self) -> int:
        return self.params.trend_lookback + 4

    def _reset(self) -> None:
        n = self.params.trend_lookback + 4
        self._closes: deque[float] = deque(maxlen=n)
        self._shapes: deque[tuple] = deque(maxlen=3)
        self._prev_volume = 0.0

    def _snapshot(self) -> tuple:
        return (tuple(self._closes), tuple(self._shapes), self._prev_volume)

    def _restore(self, snap: tuple) -> None:
        closes, shapes, pv = snap
        self._closes.clear()
        self._closes.extend(closes)
        self._shapes.clear()
        self._shapes.extend(tuple(s) for s in shapes)
        self._prev_volume = pv

    # ---- shared evaluation ------------------------------------------------
    def _signal(self, meta: SeriesMeta | None, open_time: int, hits: list[str], c: float, body: float,
                rng: float, volume: float, prev_volume: float, closes: tuple[float, ...]) -> Signal:
        """``closes`` = the last ``trend_lookback + 4`` closes, the current one last."""
        name = hits[0]
        direction, nbars, base = PATTERNS[name]
        lb = self.params.trend_lookback
        if name == "DOJI":
            trend_pct = 0.0
        else:
            before = -1 - nbars  # the bar before the pattern's first bar
            trend_pct = closes[before] / closes[before - lb] - 1.0
        score = base + (100.0 - base) * min(1.0, abs(trend_pct) / self.params.trend_full)
        features = {
            "patterns": hits,
            "bullish": sum(PATTERNS[h][0] == "bullish" for h in hits),
            "bearish": sum(PATTERNS[h][0] == "bearish" for h in hits),
            "trend_pct": trend_pct,
            "body_ratio": body / rng if rng > 0 else 0.0,
            "volume_ratio": volume / prev_volume if prev_volume > 0 else 0.0,
        }
        return self.make_signal(meta, open_time, signal_type=name, direction=direction, score=score,
                                price=c, features=features)

    def _params_args(self) -> tuple[float, float, float, float, float]:
        p = self.params
        return (p.doji_body, p.small_body, p.long_body, p.shadow_mult, p.tiny_shadow)

    # ---- streaming -----------------------------------------------------------
    def _advance(self, bar: Bar) -> list[Signal]:
        p = self.params
        s3 = shape(bar.open, bar.high, bar.low, bar.close)
        closes = self._closes
        closes.append(bar.close)
        shapes = self._shapes
        shapes.append(s3)
        prev_volume = self._prev_volume
        self._prev_volume = bar.volume
        if len(closes) < closes.maxlen:  # type: ignore[operator]
            return []
        b1, b2, _ = shapes
        if not could_match(b1, b2, s3, p.small_body, p.long_body):
            return []
        lb = p.trend_lookback
        cl = tuple(closes)
        # trend before b3 / b2 / b1: close of the bar before vs lookback bars earlier
        t1, t2, t3 = cl[-2] - cl[-2 - lb], cl[-3] - cl[-3 - lb], cl[-4] - cl[-4 - lb]
        res = match(b1, b2, s3, t1 < 0, t1 > 0, t2 < 0, t2 > 0, t3 < 0, t3 > 0, *self._params_args())
        hits = [n for n in self._wanted if res[n]]
        if not hits:
            return []
        return [self._signal(self.meta, bar.open_time, hits, bar.close, s3[BODY], s3[RNG], bar.volume,
                             prev_volume, cl)]

    # ---- batch -----------------------------------------------------------------
    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        lb = self.params.trend_lookback
        k = lb + 3  # first index with a full window
        n = len(bars)
        if n <= k:
            return []
        o, h, lo, c, v = bars.open, bars.high, bars.low, bars.close, bars.volume
        b3 = shape(o[k:], h[k:], lo[k:], c[k:])
        b2 = shape(o[k - 1:n - 1], h[k - 1:n - 1], lo[k - 1:n - 1], c[k - 1:n - 1])
        b1 = shape(o[k - 2:n - 2], h[k - 2:n - 2], lo[k - 2:n - 2], c[k - 2:n - 2])
        t1 = c[k - 1:n - 1] - c[k - 1 - lb:n - 1 - lb]
        t2 = c[k - 2:n - 2] - c[k - 2 - lb:n - 2 - lb]
        t3 = c[k - 3:n - 3] - c[k - 3 - lb:n - 3 - lb]
        res = match(b1, b2, b3, t1 < 0, t1 > 0, t2 < 0, t2 > 0, t3 < 0, t3 > 0, *self._params_args())
        names = self._wanted
        table = np.stack([np.asarray(res[name], dtype=bool) for name in names])
        out: list[Signal] = []
        for j in np.nonzero(table.any(axis=0))[0]:
            i = int(j) + k
            hits = [names[r] for r in np.nonzero(table[:, j])[0]]
            body = float(b3[BODY][j])
            rng = float(b3[RNG][j])
            closes = tuple(float(x) for x in c[i - k:i + 1])
            out.append(self._signal(meta, int(bars.open_time[i]), hits, float(c[i]), body, rng,
                                    float(v[i]), float(v[i - 1]), closes))
        return out

