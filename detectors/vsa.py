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

One definition for both paths: :func:`_vsa_match` decides the bar types from the
ratios and the context values, compiled. Streaming advances a state vector (rings
of the last bars' highs, lows, closes and volumes) with one compiled call per bar
(:func:`vsa_step`); batch runs one kernel over the whole arrays
(:func:`_vsa_kernel`), reading the trailing means shared with the other members
of a run. Both take the same sequential sums and skip bars no type can match (a
volume ratio strictly between ``low_volume`` and ``start_volume``). Signals are
built, from the same values, only for matches. State is bounded (the ring), so
corrections and checkpoints replay the raw history as the base class does.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.evaluate_on import EvaluateOnDetector
from detectors.features.rounds import in_rounds
from detectors.features.trailing import shared_trailing_mean
from detectors.indicators._jit import kernel
from detectors.patterns.compiled_state import compiled_entry, step_kernel
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


#: bar types in priority order; in a match mask, type ``k`` sets bit ``2k`` when
#: bullish and bit ``2k + 1`` when bearish
_ORDER = ("REVERSAL_BAR", "STOP_BAR", "BREAKOUT_BAR", "START_BAR", "LOADED_BAR", "TEST_BAR")


@kernel
def _vsa_match(o: float, h: float, lo: float, c: float, v: float, vr: float, sr: float, cp: float,
               trend: int, c1: float, h1: float, l1: float, v1: float, v2: float, hh: float, ll: float,
               quiet_max: float, mean_v: float, th: tuple) -> int:
    """Match mask of one bar (0: no type). ``th`` holds the thresholds in the order
    of :meth:`VSA._thresholds`. ``hh``/``ll`` are read only when volume and spread
    allow a breakout, ``quiet_max`` only when they allow a start bar."""
    high_volume, very_high_volume, start_volume, low_volume, wide_spread, reversal_spread, \
        narrow_spread, close_high, close_low = th
    m = 0
    if vr >= high_volume and sr >= reversal_spread:
        if trend < 0 and lo < l1 and cp >= close_high and c > c1:
            m |= 1
        elif trend > 0 and h > h1 and cp <= close_low and c < c1:
            m |= 2
    if vr >= very_high_volume and sr >= 1.0:
        if trend < 0 and lo < l1 and cp >= 0.5:
            m |= 4
        elif trend > 0 and h > h1 and cp <= 0.5:
            m |= 8
    if vr >= high_volume and sr >= wide_spread:
        if cp >= close_high and c > hh:
            m |= 16
        elif cp <= close_low and c < ll:
            m |= 32
    if vr >= start_volume and sr >= 1.0 and quiet_max < mean_v:
        if c > o and cp >= 0.5:
            m |= 64
        elif c < o and cp <= 0.5:
            m |= 128
    if vr >= high_volume and sr <= narrow_spread and trend != 0:
        m |= 256 if trend < 0 else 512  # effort without result: against the trend
    if vr <= low_volume and v < v1 and v < v2 and sr <= narrow_spread:
        if trend > 0 and lo < l1 and cp >= 0.5:
            m |= 1024
        elif trend < 0 and h > h1 and cp <= 0.5:
            m |= 2048
    return m


#: the plain-Python form (the tests put every bar through it)
_vsa_match_py = getattr(_vsa_match, "py_func", _vsa_match)


@kernel
def _vsa_kernel(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
                mean_vs: np.ndarray, mean_ss: np.ndarray, trend_bars: int, lookback: int, quiet_bars: int,
                warmup: int, th: tuple, hits: np.ndarray, masks: np.ndarray, trends: np.ndarray,
                ratios: np.ndarray) -> int:
    """Every bar from ``warmup`` on, as :meth:`VSA._evaluate_step` sees it, given the
    trailing mean volume and spread of every bar (``mean_vs``, ``mean_ss``: the
    streaming ``seq_sum(window) / window``); fills hit index, mask, trend and
    (vr, sr, cp) per match and returns the match count."""
    start_volume = th[2]
    low_volume = th[3]
    k = 0
    for i in range(warmup, len(c)):
        mean_v = mean_vs[i]
        if not mean_v > 0.0:
            continue
        vr = v[i] / mean_v
        if low_volume < vr < start_volume:
            continue
        mean_s = mean_ss[i]
        if not mean_s > 0.0:
            continue
        spread = h[i] - lo[i]
        sr = spread / mean_s
        cp = (c[i] - lo[i]) / spread if spread > 0.0 else 0.5
        c1 = c[i - 1]
        ref = c[i - 1 - trend_bars]
        trend = 1 if c1 > ref else -1 if c1 < ref else 0
        hh = h[i - lookback]
        ll = lo[i - lookback]
        for j in range(i - lookback + 1, i):
            hh = max(hh, h[j])
            ll = min(ll, lo[j])
        qmax = v[i - quiet_bars]
        for j in range(i - quiet_bars + 1, i):
            qmax = max(qmax, v[j])
        m = _vsa_match(o[i], h[i], lo[i], c[i], v[i], vr, sr, cp, trend, c1, h[i - 1], lo[i - 1],
                       v[i - 1], v[i - 2], hh, ll, qmax, mean_v, th)
        if m:
            hits[k] = i
            masks[k] = m
            trends[k] = trend
            ratios[k, 0] = vr
            ratios[k, 1] = sr
            ratios[k, 2] = cp
            k += 1
    return k


# ---- the streaming step: the same evaluation over a ring of the last bars, compiled ----
#: parameter vector slots (see :meth:`VSA._reset`) and state layout: the bar count,
#: then rings of the last ``ring`` highs, lows, closes and volumes, then a scratch
#: area where a matching bar leaves mask, vr, sr, cp and trend
P_W, P_TREND, P_LOOKBACK, P_QUIET, P_WARMUP, P_RING, P_TH = range(7)
_SCRATCH = 5


@step_kernel
def vsa_step(s: np.ndarray, prm: np.ndarray, o: float, h: float, lo: float, c: float, v: float) -> int:
    """Advance the state ``s`` by one valid bar; 1 when it matches a bar type (the
    scratch area then holds mask, vr, sr, cp, trend). What :func:`_vsa_kernel` does
    for bar ``t``, on the ring instead of whole arrays: the same sums (oldest first
    from 0.0), extremes and :func:`_vsa_match`."""
    w, trend_bars, lookback = int(prm[P_W]), int(prm[P_TREND]), int(prm[P_LOOKBACK])
    quiet_bars, ring = int(prm[P_QUIET]), int(prm[P_RING])
    hs, ls, cs, vs = 1, 1 + ring, 1 + 2 * ring, 1 + 3 * ring  # ring offsets
    t = int(s[0])
    pos = t % ring  # this bar's slot; bar t - k is at pos - k (wrapped), k <= ring
    hit = 0
    if t >= int(prm[P_WARMUP]):
        first = pos - w if pos >= w else pos - w + ring  # the slot of bar t - w
        total = 0.0
        j = first
        for _ in range(w):
            total += s[vs + j]
            j = j + 1 if j + 1 < ring else 0
        mean_v = total / w
        vr = v / mean_v if mean_v > 0.0 else 0.0
        if mean_v > 0.0 and not (prm[P_TH + 3] < vr < prm[P_TH + 2]):
            total = 0.0
            j = first
            for _ in range(w):
                total += s[hs + j] - s[ls + j]
                j = j + 1 if j + 1 < ring else 0
            mean_s = total / w
            if mean_s > 0.0:
                spread = h - lo
                sr = spread / mean_s
                cp = (c - lo) / spread if spread > 0.0 else 0.5
                p1 = pos - 1 if pos >= 1 else pos - 1 + ring
                p2 = pos - 2 if pos >= 2 else pos - 2 + ring
                pr = pos - 1 - trend_bars
                if pr < 0:
                    pr += ring
                c1 = s[cs + p1]
                ref = s[cs + pr]
                trend = 1 if c1 > ref else -1 if c1 < ref else 0
                j = pos - lookback if pos >= lookback else pos - lookback + ring
                hh = s[hs + j]
                ll = s[ls + j]
                for _ in range(lookback - 1):
                    j = j + 1 if j + 1 < ring else 0
                    hh = max(hh, s[hs + j])
                    ll = min(ll, s[ls + j])
                j = pos - quiet_bars if pos >= quiet_bars else pos - quiet_bars + ring
                qmax = s[vs + j]
                for _ in range(quiet_bars - 1):
                    j = j + 1 if j + 1 < ring else 0
                    qmax = max(qmax, s[vs + j])
                th = (prm[P_TH], prm[P_TH + 1], prm[P_TH + 2], prm[P_TH + 3], prm[P_TH + 4], prm[P_TH + 5],
                      prm[P_TH + 6], prm[P_TH + 7], prm[P_TH + 8])
                m = _vsa_match(o, h, lo, c, v, vr, sr, cp, trend, c1, s[hs + p1], s[ls + p1], s[vs + p1],
                               s[vs + p2], hh, ll, qmax, mean_v, th)
                if m:
                    out = 1 + 4 * ring
                    s[out], s[out + 1], s[out + 2], s[out + 3], s[out + 4] = m, vr, sr, cp, trend
                    hit = 1
    s[hs + pos] = h
    s[ls + pos] = lo
    s[cs + pos] = c
    s[vs + pos] = v
    s[0] = t + 1
    return hit


_DECODED: dict[int, tuple[str, bool, tuple[str, ...]]] = {}


def _decode(mask: int) -> tuple[str, bool, tuple[str, ...]]:
    """(first type, bullish?, every matched type) of a match mask, memoized."""
    got = _DECODED.get(mask)
    if got is None:
        first = (mask & -mask).bit_length() - 1  # lowest set bit: the first type and its side
        matched = tuple(kind for k, kind in enumerate(_ORDER) if mask >> (2 * k) & 3)
        got = _DECODED[mask] = (_ORDER[first // 2], first % 2 == 0, matched)
    return got


_DIRECTIONS = ("bearish", "bullish")  # by bullish

_LOADED, _TEST = _ORDER.index("LOADED_BAR"), _ORDER.index("TEST_BAR")


def _decode_column(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[tuple[str, ...]]]:
    """:func:`_decode` of a column of match masks: per mask the index in ``_ORDER``
    of the first type and whether it is bullish (arrays), its type name, direction
    and matched types (lists)."""
    uniq, inv = np.unique(masks, return_inverse=True)
    decoded = [_decode(m) for m in uniq.tolist()]
    first = np.array([_ORDER.index(kind) for kind, _, _ in decoded], dtype=np.int64)[inv]
    bullish = np.array([up for _, up, _ in decoded], dtype=bool)[inv]
    at = inv.tolist()
    return (first, bullish, [decoded[j][0] for j in at], [_DIRECTIONS[decoded[j][1]] for j in at],
            [decoded[j][2] for j in at])


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
        self._th = tuple(float(x) for x in (
            p.high_volume, p.very_high_volume, p.start_volume, p.low_volume, p.wide_spread,
            p.reversal_spread, p.narrow_spread, p.close_high, p.close_low))
        self._warmup = max(p.window, p.breakout_lookback, p.trend_bars + 1, p.quiet_bars)
        self.history_bars = max(type(self).history_bars, self._warmup + 2)  # type: ignore[misc]

    @property
    def warmup(self) -> int:
        return self._warmup

    def _reset(self) -> None:
        p = self.params
        self._reset_pending()
        ring = self._warmup  # every window fits: window, trend_bars + 1, breakout_lookback, quiet_bars
        self._prm = prm = np.array([p.window, p.trend_bars, p.breakout_lookback, p.quiet_bars, self._warmup, ring,
                                    *self._th], dtype=np.float64)
        self._s = np.zeros(1 + 4 * ring + _SCRATCH)
        self._scratch = self._s[1 + 4 * ring:]
        self._step_fn = compiled_entry(vsa_step, np.zeros_like(self._s), prm, 1.0, 1.0, 1.0, 1.0, 1.0)

    def _signal(self, meta: SeriesMeta | None, open_time: int, price: float, mask: int, vr: float,
                sr: float, cp: float, trend: int) -> Signal:
        p = self.params
        kind, bullish, matched = _decode(mask)
        if kind == "TEST_BAR":
            vol_c = max(0.0, 1.0 - vr)
        else:
            vol_c = min(1.0, vr / (2.0 * p.high_volume))
        if kind == "LOADED_BAR" or kind == "TEST_BAR":
            spr_c = max(0.0, 1.0 - sr)
        else:
            spr_c = min(1.0, sr / (2.0 * p.wide_spread))
        close_c = cp if bullish else 1.0 - cp
        score = 100.0 * (0.4 * vol_c + 0.3 * spr_c + 0.3 * close_c)
        features: dict[str, Any] = {
            "bar_type": kind, "matched": list(matched), "volume_ratio": vr,
            "spread_ratio": sr, "close_position": cp, "trend": trend,
            "evaluated_on": p.evaluate_on,
        }
        return self.make_signal(meta, open_time, signal_type=kind,
                                direction="bullish" if bullish else "bearish", score=score,
                                price=price, features=features)

    def _evaluate_step(self, bar: Bar) -> list[Signal]:
        if self._step_fn(self._s, self._prm, bar.open, bar.high, bar.low, bar.close, bar.volume):
            mask, vr, sr, cp, trend = self._scratch.tolist()
            return [self._signal(self.meta, bar.open_time, bar.close, int(mask), vr, sr, cp, int(trend))]
        return []

    def _evaluate_batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        p = self.params
        n = len(bars)
        if n <= self._warmup:
            return []
        hits = np.empty(n, dtype=np.int64)
        masks = np.empty(n, dtype=np.int64)
        trends = np.empty(n, dtype=np.int64)
        ratios = np.empty((n, 3))
        k = _vsa_kernel(bars.open, bars.high, bars.low, bars.close, bars.volume,
                        shared_trailing_mean(bars, "volume", p.window),
                        shared_trailing_mean(bars, "spread", p.window), p.trend_bars, p.breakout_lookback,
                        p.quiet_bars, self._warmup, self._th, hits, masks, trends, ratios)
        make = self.signal_maker(meta)
        return in_rounds(k, lambda i, j: self._signals(bars, make, hits[i:j], masks[i:j], trends[i:j], ratios[i:j]))

    def _signals(self, bars: BarArrays, make: Any, idx: np.ndarray, mask: np.ndarray, trends: np.ndarray,
                 ratios: np.ndarray) -> list[Signal]:
        """:meth:`_signal` for matches at bars ``idx``, column-wise: the score on whole
        columns (same operations, same order), then one dict and one record per match."""
        p = self.params
        vr, sr, cp = ratios.T
        first, bullish, kinds, directions, matches = _decode_column(mask)
        vol_c = np.where(first == _TEST, np.maximum(0.0, 1.0 - vr), np.minimum(1.0, vr / (2.0 * p.high_volume)))
        spr_c = np.where((first == _LOADED) | (first == _TEST), np.maximum(0.0, 1.0 - sr),
                         np.minimum(1.0, sr / (2.0 * p.wide_spread)))
        close_c = np.where(bullish, cp, 1.0 - cp)
        score = 100.0 * (0.4 * vol_c + 0.3 * spr_c + 0.3 * close_c)
        evaluated_on = p.evaluate_on
        return [
            make(t, kind, direction, sc, c, {
                "bar_type": kind, "matched": list(matched), "volume_ratio": v_r, "spread_ratio": s_r,
                "close_position": c_p, "trend": trend, "evaluated_on": evaluated_on})
            for t, kind, direction, matched, trend, (sc, c, v_r, s_r, c_p) in zip(
                bars.open_time[idx].tolist(), kinds, directions, matches, trends.tolist(),
                np.column_stack((score, bars.close[idx], vr, sr, cp)).tolist(), strict=True)
        ]
