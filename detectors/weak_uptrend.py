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

One compiled step (:func:`weak_step`) advances a float64 state vector by one bar:
the RSI, the bar's flag mask (bit ``k`` = ``FLAGS[k]``, as :func:`bar_flags` defines
them) kept for the last ``recent_bars`` bars, whose OR is the active patterns, and
rings of the last volumes, spreads and closes. Streaming calls it once per bar.
Batch runs the same recurrence, same arithmetic, with its state in local variables
(:func:`_weak_kernel`: a step keeping its state in the vector would take four
times as long) and the trailing means the other members of a run share, the sums
the step takes over its rings. Signals are built only for hits, from the active
mask and the RSI.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np

from detectors.base import Bar, BarArrays, SeriesMeta
from detectors.features.evaluate_on import EVALUATE_ON
from detectors.features.rounds import in_rounds
from detectors.features.state import SnapshotDetector
from detectors.features.trailing import shared_trailing_mean
from detectors.indicators._jit import kernel
from detectors.patterns.compiled_state import compiled_entry, step_kernel
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


#: tag of the checkpoint layout (snapshots of the state vector)
LAYOUT = "weak_uptrend/2"
#: scalar state slots (``n`` = bars seen; the RSI's previous close and value are ``c1``, ``rsi1``)
#: and this bar's slots in the rings: ``n`` modulo the window, trend_bars and recent_bars
SCALARS = ("n", "gain", "loss", "h1", "lo1", "c1", "c2", "v1", "rsi1", "was_weak", "pos_w", "pos_trend",
           "pos_recent")
N, GAIN, LOSS, H1, LO1, C1, C2, V1, RSI1, WAS_WEAK, POS_W, POS_TREND, POS_RECENT = range(len(SCALARS))
_NS = len(SCALARS)
#: parameter vector slots, ring offsets last
(P_W, P_TREND, P_PERIOD, P_SIMILAR, P_EXCESS, P_WIDE, P_RECENT, P_MIN, P_WARMUP, P_VOLS, P_SPREADS, P_CLOSES,
 P_MASKS, P_END) = range(14)
#: what a signalling bar leaves after the state proper
HIT_FIELDS = ("active", "rsi")


def _params_vector(p: WeakUptrendParams, warmup: int) -> np.ndarray:
    vols = _NS
    spreads = vols + p.window
    closes = spreads + p.window
    masks = closes + p.trend_bars
    end = masks + p.recent_bars
    return np.array([p.window, p.trend_bars, p.rsi_period, 1.0 + p.similar_spread, p.excess_volume,
                     p.wide_spread, p.recent_bars, p.min_patterns, warmup, vols, spreads, closes, masks, end],
                    dtype=np.float64)


def _initial_state(prm: np.ndarray) -> np.ndarray:
    s = np.zeros(int(prm[P_END]) + len(HIT_FIELDS))
    s[[H1, LO1, C1, C2, V1, RSI1]] = math.nan
    return s


@step_kernel
def weak_step(s: np.ndarray, prm: np.ndarray, h: float, lo: float, c: float, v: float) -> int:
    """Advance the state ``s`` by one valid bar; 1 when WEAK_UPTREND starts on it
    (``HIT_FIELDS`` are then after the state proper). The rules of
    :meth:`WeakUptrend` and the arithmetic of :func:`_weak_kernel`."""
    w, trend_bars, period, recent = int(prm[P_W]), int(prm[P_TREND]), int(prm[P_PERIOD]), int(prm[P_RECENT])
    vo, so, co, mo = int(prm[P_VOLS]), int(prm[P_SPREADS]), int(prm[P_CLOSES]), int(prm[P_MASKS])
    t = int(s[N])  # bars before this one
    s[N] = t + 1
    h1, lo1, c1, c2, v1, rsi1 = s[H1], s[LO1], s[C1], s[C2], s[V1], s[RSI1]
    # Wilder RSI: WilderRSI.update's arithmetic (NaN until period + 1 closes)
    rsi = rsi1
    if t:
        diff = c - c1
        if t > period:
            loss = s[LOSS] * (period - 1)
            gain = s[GAIN] * (period - 1)
            if diff < 0:
                loss -= diff
            else:
                gain += diff
            loss = loss / period
            gain = gain / period
            s[LOSS] = loss
            s[GAIN] = gain
            total = gain + loss
            rsi = 100.0 * (gain / total) if total != 0.0 else 50.0
        else:
            if diff < 0:
                s[LOSS] -= diff
            else:
                s[GAIN] += diff
            if t == period:
                loss = s[LOSS] / period
                gain = s[GAIN] / period
                s[LOSS] = loss
                s[GAIN] = gain
                total = gain + loss
                rsi = 100.0 * (gain / total) if total != 0.0 else 50.0
    # the flags of bar_flags, as a mask; the windows are read only when full
    spread = h - lo
    m = 0
    if h > h1:
        if v < v1:
            m = 1
        if rsi < rsi1:
            m |= 8
        if spread > 0.0 and (c - lo) / spread < 0.5:
            m |= 16
    if c > c1:
        if spread <= (h1 - lo1) * prm[P_SIMILAR]:
            m |= 2
        if (c - c1) < (c1 - c2):
            m |= 4
    pos = int(s[POS_W])  # t % w: the slot of bar t - w, the oldest of the window
    if t >= w:  # the window sums, oldest first (seq_sum / window)
        total = 0.0
        for j in range(pos, w):
            total += s[vo + j]
        for j in range(pos):
            total += s[vo + j]
        if v >= prm[P_EXCESS] * (total / w):
            m |= 32
        if c < c1:
            total = 0.0
            for j in range(pos, w):
                total += s[so + j]
            for j in range(pos):
                total += s[so + j]
            if spread >= prm[P_WIDE] * (total / w):
                m |= 64
    rpos = int(s[POS_RECENT])
    s[mo + rpos] = m
    hit = 0
    weak = 0.0
    cpos = int(s[POS_TREND])  # t % trend_bars: the close trend_bars bars back (full from the warm-up on)
    if t >= int(prm[P_WARMUP]) and c > s[co + cpos]:
        active = 0
        for j in range(recent):
            active |= int(s[mo + j])
        count = (active & 1) + (active >> 1 & 1) + (1 if active & 28 else 0) + (active >> 5 & 1) \
            + (active >> 6 & 1)
        if active & 28 and count >= int(prm[P_MIN]):
            weak = 1.0
            if s[WAS_WEAK] == 0.0:
                out = int(prm[P_END])
                s[out] = active
                s[out + 1] = rsi
                hit = 1
    s[WAS_WEAK] = weak
    s[vo + pos] = v
    s[so + pos] = spread
    s[co + cpos] = c
    s[POS_W] = pos + 1 if pos + 1 < w else 0
    s[POS_TREND] = cpos + 1 if cpos + 1 < trend_bars else 0
    s[POS_RECENT] = rpos + 1 if rpos + 1 < recent else 0
    s[H1], s[LO1], s[C1], s[C2], s[V1], s[RSI1] = h, lo, c, c1, v, rsi
    return hit


@kernel
def _weak_kernel(h: np.ndarray, lo: np.ndarray, c: np.ndarray, mean_v: np.ndarray, mean_s: np.ndarray,
                 v: np.ndarray, w: int, trend_bars: int, period: int, similar: float, excess: float, wide: float,
                 recent: int, min_patterns: int, warmup: int, hits: np.ndarray, actives: np.ndarray,
                 rsis: np.ndarray) -> int:
    """:func:`weak_step` over a whole series, with its state in local variables
    (``similar`` is ``1 + similar_spread``) and given the trailing mean volume and
    spread of every bar (the sums the step takes over its rings); fills hit bar,
    active mask and RSI per signal and returns the count. Four times faster than
    calling the step per bar, which must keep its state in the vector."""
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
        self._last_closed = p.evaluate_on == "last_closed"
        self._templates = _feature_templates(p.evaluate_on)

    @property
    def warmup(self) -> int:
        return self._warmup

    def _reset(self) -> None:
        self._prm = prm = _params_vector(self.params, self._warmup)
        self._size = int(prm[P_END])
        self._s = _initial_state(prm)
        self._scratch = self._s[self._size:]  # a view: where a signalling bar leaves HIT_FIELDS
        self._step_fn = compiled_entry(weak_step, _initial_state(prm), prm, 1.0, 1.0, 1.0, 1.0)
        self._pending: list[Signal] = []
        p = self.params
        self._layout = f"{LAYOUT}:{p.window},{p.trend_bars},{p.recent_bars}"  # the rings' sizes

    def _snapshot(self) -> tuple:
        return (self._layout, tuple(self._s[:self._size].tolist()),
                tuple(msgspec.to_builtins(s) for s in self._pending))

    def _restore(self, snap: tuple) -> None:
        if snap and isinstance(snap[0], str):
            layout, state, pending = snap
            if layout != self._layout or len(state) != self._size:
                raise ValueError(f"detector {self.name}: state is a {layout!r} snapshot, this detector keeps "
                                 f"{self._layout!r} (a checkpoint of another version or configuration; start "
                                 "the series afresh)")
            self._s[:self._size] = state
        else:
            pending = self._restore_v1(snap)
        self._pending = [msgspec.convert(x, Signal) for x in pending]

    def _restore_v1(self, snap: tuple) -> tuple:
        """A checkpoint of the first layout (deques and tuples): ``(t, (prev close,
        count, gain, loss, rsi), vols, spreads, closes, (h1, lo1, c1, c2, v1, rsi1),
        masks, was_weak, pending)``, put into the state vector; returns its pending
        signals."""
        try:
            t, (_, _, gain, loss, _), vols, spreads, closes, prev, masks, was_weak, pending = snap
        except (TypeError, ValueError):
            raise ValueError(f"detector {self.name}: state is neither a {LAYOUT!r} snapshot nor the first "
                             "layout (a checkpoint from another version; start the series afresh)") from None
        prm, s = self._prm, _initial_state(self._prm)
        n = t + 1  # bars seen
        s[N], s[GAIN], s[LOSS], s[WAS_WEAK] = n, gain, loss, float(was_weak)
        s[POS_W], s[POS_TREND], s[POS_RECENT] = n % prm[P_W], n % prm[P_TREND], n % prm[P_RECENT]
        s[[H1, LO1, C1, C2, V1, RSI1]] = prev
        # each window's values belong to the last bars seen, oldest first
        for offset, size, values in ((P_VOLS, P_W, vols), (P_SPREADS, P_W, spreads),
                                     (P_CLOSES, P_TREND, closes), (P_MASKS, P_RECENT, masks)):
            ring = int(prm[size])
            values = values[-ring:]
            for k, x in enumerate(values):
                s[int(prm[offset]) + (n - len(values) + k) % ring] = x
        self._s[:] = s
        return pending

    def _signal(self, meta: SeriesMeta | None, open_time: int, close: float, active: int, rsi: float) -> Signal:
        features = self._templates[active].copy()
        features["rsi"] = rsi
        return self.make_signal(meta, open_time, signal_type="WEAK_UPTREND", direction="bearish",
                                score=_SCORE[active], price=close, features=features)

    def _advance(self, bar: Bar) -> list[Signal]:
        if self._step_fn(self._s, self._prm, bar.high, bar.low, bar.close, bar.volume):
            active, rsi = self._scratch.tolist()
            out = [self._signal(self.meta, bar.open_time, bar.close, int(active), rsi)]
        else:
            out = []
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
                         p.rsi_period, 1.0 + p.similar_spread, float(p.excess_volume), float(p.wide_spread),
                         p.recent_bars, p.min_patterns, self._warmup, hits, actives, rsis)
        if p.evaluate_on == "last_closed" and k and hits[k - 1] == n - 1:
            k -= 1  # the newest bar's signal is still pending
        make = self.signal_maker(meta)
        templates, score = self._templates, _SCORE

        def build(i: int, j: int) -> list[Signal]:
            out: list[Signal] = []
            append = out.append
            for t, c, a, r in zip(bars.open_time[hits[i:j]].tolist(), bars.close[hits[i:j]].tolist(),
                                  actives[i:j].tolist(), rsis[i:j].tolist(), strict=True):
                features = templates[a].copy()
                features["rsi"] = r
                append(make(t, "WEAK_UPTREND", "bearish", score[a], c, features))
            return out

        return in_rounds(k, build)
