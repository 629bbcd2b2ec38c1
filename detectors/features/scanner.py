"""Per-bar features of the continuous-scanner detectors, computed once per bar.

``mean_reversion``, ``candle_clustering``, ``momentum`` and ``balanced_score``
share inputs: the mean volume of the ``volume_window`` bars before the bar, the
clustering counts (:mod:`detectors.features.clustering`), the close
``change_bars`` / ``gain_bars`` ago, the close streaks, the peak volume and Wilder
RSI (:mod:`detectors.features.reversion`). :class:`ScannerState` computes the parts
a detector asks for in one streaming step (``balanced_score`` thus shares one volume
window and one close window between momentum and reversion); :func:`scanner_series`
is its batch form, one compiled loop (:mod:`detectors.features.scanner_kernel`).

Both forms perform the same IEEE operations in the same order, so every value is
bit-identical between them; the detectors then build their features from these
values with the same Python functions in both paths. RSI is
:mod:`detectors.indicators.rsi` (the class in streaming, the vectorized function in
batch).

State is bounded: two ring buffers of ``volume_window`` / ``max(change_bars,
gain_bars)`` values, the high-volume candles of the last ``cluster_lookback`` bars
and a few scalars.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from itertools import islice
from types import SimpleNamespace
from typing import Any

import numpy as np

from detectors.features import scanner_kernel as K
from detectors.features.clustering import ClusterCounts
from detectors.features.reversion import reversion_warmup
from detectors.indicators.rsi import RSI, rsi
from detectors.patterns.exact_state import Feed

if sys.version_info < (3, 12):
    _seq_sum = sum  # left-to-right double addition, as the kernel's loop
else:  # pragma: no cover - 3.12's sum is compensated
    from detectors.features.window import seq_sum as _seq_sum

_NAN = math.nan


class ScannerState:
    """Streaming features; :meth:`update` advances one bar, the attributes and
    ``*_inputs`` methods then describe that bar.

    After ``update``: ``t`` (0-based bar index), ``close``, ``volume``; with
    clustering or momentum ``mean`` (mean volume of the ``volume_window`` bars
    before, NaN in warm-up), ``hv`` and ``changed`` (True when the clustering counts
    differ from the previous bar's); with reversion ``up``, ``down`` and
    ``rsi_value``. Closes ``k`` bars back are :meth:`close_ago`; the rest is
    computed on demand by ``*_inputs``.
    """

    __slots__ = ("W", "L", "F", "P", "hv_mult", "cluster", "momentum", "reversion", "change_bars",
                 "gain_bars", "rev_warm", "t", "close", "volume", "vols", "recent", "closes", "mean",
                 "prev_close", "hv", "changed", "last_hv_dir", "window", "pending", "finished", "hv_count",
                 "starts", "ft", "ft_n", "up", "down", "rsi_p", "rsi_n", "rsi_gain", "rsi_loss",
                 "rsi_value", "_counts", "_rin")

    def __init__(self, p: Any, *, clustering: bool = False, momentum: bool = False,
                 reversion: bool = False) -> None:
        self.cluster = clustering or momentum  # momentum's boost needs the clustering
        self.momentum = momentum
        self.reversion = reversion
        self.W = p.volume_window
        self.L = p.cluster_lookback if self.cluster else 0
        self.F = p.follow_bars if self.cluster else 0
        self.hv_mult = p.hv_mult if self.cluster else 0.0
        self.P = p.peak_lookback if reversion else 0
        self.change_bars = p.change_bars if momentum else 0
        self.gain_bars = p.gain_bars if reversion else 0
        self.rev_warm = reversion_warmup(p) if reversion else 0
        self.t = -1
        self.close = _NAN
        self.volume = _NAN
        #: volumes before the current bar (the mean's window), clustering/momentum only
        self.vols: deque[float] = deque(maxlen=self.W)
        #: the last ``volume_window + 1`` volumes, the current one included (reversion only)
        self.recent: deque[float] = deque(maxlen=self.W + 1)
        #: the current close and the ``max(change_bars, gain_bars)`` before it
        self.closes: deque[float] = deque(maxlen=max(self.change_bars, self.gain_bars) + 1)
        self.mean = _NAN
        self.prev_close = _NAN
        # clustering
        self.hv = 0
        self.changed = False
        self.last_hv_dir = 0
        self.window: deque[tuple[int, int, bool]] = deque()  # high-volume candles: (index, dir, starts a run)
        self.pending: list[list[int]] = []  # [index, dir, followers so far] until follow_bars closed
        self.finished: deque[tuple[int, int, int]] = deque()  # (index, dir, followers)
        self.hv_count = [0, 0, 0]  # indexed by dir (1 bull, -1 bear)
        self.starts = [0, 0, 0]
        self.ft = [0, 0, 0]
        self.ft_n = [0, 0, 0]
        # reversion
        self.up = 0
        self.down = 0
        # Wilder RSI (detectors.indicators.rsi.RSI's state and arithmetic, stepped inline)
        self.rsi_p = RSI(p.rsi_period).period if reversion else 0  # (the class checks the period)
        self.rsi_n = 0
        self.rsi_gain = self.rsi_loss = 0.0
        self.rsi_value = _NAN
        # the current bar's counts() and reversion_inputs(), once asked (several
        # detectors of a set read one state); cleared by update() and restore()
        self._counts: ClusterCounts | None = None
        self._rin: tuple[Any, ...] | None = None

    # ---- checkpoint -------------------------------------------------------------
    def snapshot(self) -> tuple[Any, ...]:
        # (the RSI's previous close is prev_close, kept in its slot of the layout)
        rs = (self.rsi_n, self.rsi_value, self.rsi_gain, self.rsi_loss, self.prev_close) if self.reversion else None
        return (self.t, self.close, self.volume, tuple(self.vols), tuple(self.recent), tuple(self.closes),
                self.mean, self.prev_close, self.hv, self.changed, self.last_hv_dir, tuple(self.window),
                tuple(tuple(x) for x in self.pending), tuple(self.finished), tuple(self.hv_count),
                tuple(self.starts), tuple(self.ft), tuple(self.ft_n), self.up, self.down, rs, self.rsi_value)

    def restore(self, s: tuple[Any, ...]) -> None:
        (self.t, self.close, self.volume, vols, recent, closes, self.mean, self.prev_close, self.hv,
         self.changed, self.last_hv_dir, window, pending, finished, hv_count, starts, ft, ft_n,
         self.up, self.down, rs, self.rsi_value) = s
        self._counts = self._rin = None
        self.vols = deque(vols, maxlen=self.vols.maxlen)
        self.recent = deque(recent, maxlen=self.recent.maxlen)
        self.closes = deque(closes, maxlen=self.closes.maxlen)
        self.window = deque(tuple(x) for x in window)
        self.pending = [list(x) for x in pending]
        self.finished = deque(tuple(x) for x in finished)
        self.hv_count, self.starts, self.ft, self.ft_n = list(hv_count), list(starts), list(ft), list(ft_n)
        if rs is not None:
            self.rsi_n, _, self.rsi_gain, self.rsi_loss, _ = rs

    # ---- one bar ----------------------------------------------------------------
    def update(self, o: float, c: float, v: float) -> None:
        t = self.t = self.t + 1
        self._counts = self._rin = None
        self.close = c
        self.volume = v
        self.closes.append(c)
        pc = self.prev_close
        self.prev_close = c
        if self.cluster:
            vols = self.vols
            W = self.W
            if t >= W:
                mean = self.mean = _seq_sum(vols) / W
                hv = (1 if c > o else -1) if v > 0.0 and c != o and v >= self.hv_mult * mean else 0
            else:
                hv = 0
            vols.append(v)
            changed = False
            pending = self.pending
            if pending:  # followers of earlier high-volume candles
                move = 1 if c > pc else -1 if c < pc else 0
                if move:
                    for item in pending:
                        if item[1] == move:
                            item[2] += 1
                F = self.F
                if t - pending[0][0] >= F:
                    ft, ft_n, finished = self.ft, self.ft_n, self.finished
                    while pending and t - pending[0][0] >= F:
                        item = pending.pop(0)
                        d = item[1]
                        cnt = item[2]
                        finished.append((item[0], d, cnt))
                        ft[d] += cnt
                        ft_n[d] += 1
                    changed = True
            if hv:
                starts = hv != self.last_hv_dir
                self.last_hv_dir = hv
                self.window.append((t, hv, starts))
                self.hv_count[hv] += 1
                self.starts[hv] += starts
                pending.append([t, hv, 0])
                changed = True
            edge = t - self.L
            window = self.window
            if window and window[0][0] <= edge:
                hv_count, st_count = self.hv_count, self.starts
                while window and window[0][0] <= edge:
                    _, d, st = window.popleft()
                    hv_count[d] -= 1
                    st_count[d] -= st
                changed = True
            finished = self.finished
            if finished and finished[0][0] <= edge:
                ft, ft_n = self.ft, self.ft_n
                while finished and finished[0][0] <= edge:
                    _, d, cnt = finished.popleft()
                    ft[d] -= cnt
                    ft_n[d] -= 1
                changed = True
            self.hv = hv
            self.changed = changed
        if self.reversion:
            self.recent.append(v)
            if c > pc:
                self.up += 1
                self.down = 0
            elif c < pc:
                self.down += 1
                self.up = 0
            else:
                self.up = self.down = 0
            # RSI._step(c), inlined: the same operations in the same order
            i = self.rsi_n
            p = self.rsi_p
            if i > p:  # the steady state first (rsi_n stops counting there: only i <= p matters)
                diff = c - pc
                loss = self.rsi_loss * (p - 1)
                gain = self.rsi_gain * (p - 1)
                if diff < 0:
                    loss -= diff
                else:
                    gain += diff
                loss /= p
                gain /= p
                self.rsi_gain = gain
                self.rsi_loss = loss
                total = gain + loss
                self.rsi_value = 100.0 * (gain / total) if total != 0.0 else 50.0
                return
            self.rsi_n = i + 1
            if i == 0:
                self.rsi_value = _NAN
                return
            diff = c - pc
            gain = self.rsi_gain
            loss = self.rsi_loss
            if diff < 0:
                loss -= diff
            else:
                gain += diff
            if i < p:
                self.rsi_gain = gain
                self.rsi_loss = loss
                self.rsi_value = _NAN
                return
            loss /= p
            gain /= p
            self.rsi_gain = gain
            self.rsi_loss = loss
            total = gain + loss
            self.rsi_value = 100.0 * (gain / total) if total != 0.0 else 50.0

    # ---- inputs of the feature functions, for the current bar ---------------------
    def close_ago(self, k: int) -> float:
        """The close ``k`` bars before the current one (``1 <= k <= t``)."""
        return self.closes[-k - 1]

    def counts(self) -> ClusterCounts:
        k = self._counts
        if k is None:
            k = self._counts = self._count()
        return k

    def _count(self) -> ClusterCounts:
        hv, st = self.hv_count, self.starts
        bull_cl, bear_cl = st[1], st[-1]
        window = self.window
        if window and not window[0][2]:  # the first run in the window started before it
            if window[0][1] == 1:
                bull_cl += 1
            else:
                bear_cl += 1
        ft, ft_n = self.ft, self.ft_n
        return ClusterCounts(hv[1], hv[-1], bull_cl, bear_cl, ft[1], ft_n[1], ft[-1], ft_n[-1], self.hv)

    def momentum_ready(self) -> bool:
        return self.t >= self.change_bars and self.t >= self.W and self.mean > 0.0

    def momentum_inputs(self) -> tuple[Any, ...]:
        """(close, volume, close_ago, vol_mean, counts): the arguments of
        :func:`detectors.features.momentum.score_momentum` after ``p``."""
        return (self.close, self.volume, self.closes[-self.change_bars - 1], self.mean, self.counts())

    def reversion_ready(self) -> bool:
        return self.t >= self.rev_warm

    def reversion_inputs(self) -> tuple[Any, ...]:
        """(close, volume, up, down, vol_avg, vol_peak, close_ago, rsi): the arguments
        of :func:`detectors.features.reversion.score_reversion` after ``p``."""
        r = self._rin
        if r is None:
            r = self._rin = self._reversion_inputs()
        return r

    def _reversion_inputs(self) -> tuple[Any, ...]:
        W = self.W
        recent = self.recent  # the volume_window volumes before the current bar, then it
        mean = self.mean if self.cluster else _seq_sum(islice(recent, W)) / W
        return (self.close, self.volume, self.up, self.down, mean, max(islice(recent, W - self.P, W)),
                self.closes[-self.gain_bars - 1], self.rsi_value)


def scanner_spec(p: Any, *, clustering: bool = False, momentum: bool = False,
                 reversion: bool = False) -> tuple[type[Feed], dict[str, Any]]:
    """The :class:`ScannerFeed` spec of ``ScannerState(p, **parts)``: the parts and
    the parameters each reads. Specs agreeing on the parameters they share merge into
    one state with the union of the parts; every value a part reads is the same in
    the union (the volume mean of the clustering part equals the reversion part's own
    mean once ``t >= volume_window``, and reversion reads it only after its warm-up,
    which is at least ``volume_window``; the close window only grows)."""
    spec: dict[str, Any] = {"volume_window": p.volume_window}
    if clustering or momentum:
        spec.update(clustering=True, hv_mult=p.hv_mult, cluster_lookback=p.cluster_lookback,
                    follow_bars=p.follow_bars)
    if momentum:
        spec.update(momentum=True, change_bars=p.change_bars)
    if reversion:
        spec.update(reversion=True, peak_lookback=p.peak_lookback, gain_bars=p.gain_bars, rsi_period=p.rsi_period)
    return ScannerFeed, spec


class ScannerFeed(Feed):
    """One :class:`ScannerState` (the union of the parts asked for) for every
    scanner detector of a set."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        self.state = ScannerState(SimpleNamespace(**spec), clustering=spec.get("clustering", False),
                                  momentum=spec.get("momentum", False), reversion=spec.get("reversion", False))

    def advance(self, bar: Any) -> None:
        self.state.update(bar.open, bar.close, bar.volume)

    def step(self, bar: Any) -> None:  # Feed.step with advance inlined (per bar, for every set)
        left = self._undo_left
        if left:
            self._undo_left = left - 1
            self._replay.append(bar)
        else:
            self._keep_undo(bar)
        self.state.update(bar.open, bar.close, bar.volume)

    def snapshot(self) -> tuple[Any, ...]:
        return self.state.snapshot()

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.state.restore(snap)


def memoized(memo: dict[Any, Any] | None, key: tuple[Any, ...], compute: Any) -> Any:
    """``memo[key]``, computed by ``compute()`` the first time (no memo: always)."""
    if memo is None:
        return compute()
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = compute()
        return value


def trailing_volume_mean(v: np.ndarray, window: int, memo: dict[Any, Any] | None = None) -> np.ndarray:
    """Mean volume of the ``window`` bars before each bar (NaN before), summed in
    the streaming order (:func:`scanner_kernel.trailing_mean_into`); ``memo``: a
    :attr:`detectors.base.BarArrays.shared` of the arrays ``v`` belongs to."""
    def compute() -> np.ndarray:
        out = np.empty(len(v))
        K.trailing_mean_into(np.ascontiguousarray(v, dtype=np.float64), window, out)
        return out

    mean: np.ndarray = memoized(memo, ("trailing_mean", "volume", window), compute)
    return mean


def close_rsi(c: np.ndarray, period: int, memo: dict[Any, Any] | None = None) -> np.ndarray:
    """Wilder RSI of the closes (:func:`detectors.indicators.rsi.rsi`), memoized like
    :func:`trailing_volume_mean`."""
    out: np.ndarray = memoized(memo, ("rsi", "close", period), lambda: rsi(c, period))
    return out


def cluster_key(p: Any) -> tuple[Any, ...]:
    """Every parameter the clustering part of the batch features depends on."""
    return (p.volume_window, p.hv_mult, p.cluster_lookback, p.follow_bars, p.min_cluster_candles, p.trend_ratio,
            p.follow_through_min)


def momentum_key(p: Any) -> tuple[Any, ...]:
    return (*cluster_key(p), p.change_bars, p.score_scale)


def reversion_key(p: Any) -> tuple[Any, ...]:
    return (p.volume_window, p.rsi_period, p.streak_min, p.peak_lookback, p.gain_bars, p.volume_mult,
            p.volume_decline, p.gain_pct, p.rsi_overbought, p.rsi_oversold)


class ScannerSeries:
    """Batch features of a whole series; row ``i`` equals :class:`ScannerState`
    after bar ``i``. Arrays: ``mean``; with clustering ``counts`` (n x 9, the
    :class:`ClusterCounts` fields), ``trend`` (dominant sign where a trend is formed,
    else 0) and ``strength``; with momentum ``mscore``/``msign`` (0 where not ready)
    and ``mom_ready``; with reversion ``streak`` (n x 2: up, down), ``peak``, ``rsi``,
    ``votes`` (n x 2: bearish, bullish; 0 where not ready) and ``rev_ready``.

    With a ``memo`` (the :attr:`detectors.base.BarArrays.shared` of the series), each
    part is computed once per run for the parameters it depends on
    (:func:`cluster_key`, :func:`momentum_key`, :func:`reversion_key`; the mean and
    RSI by window and period) and reused by every detector of the run asking for it
    with the same ones; the parts missing are computed together, in one kernel call.
    """

    def __init__(self, p: Any, o: np.ndarray, c: np.ndarray, v: np.ndarray, *, clustering: bool = False,
                 momentum: bool = False, reversion: bool = False, memo: dict[Any, Any] | None = None) -> None:
        n = len(c)
        cluster = clustering or momentum
        o, c, v = (np.ascontiguousarray(a, dtype=np.float64) for a in (o, c, v))
        self.close, self.volume = c, v
        self.mean = mean = trailing_volume_mean(v, p.volume_window, memo)
        self.rsi = close_rsi(c, p.rsi_period, memo) if reversion else np.empty(0)
        ck = ("scanner_cluster", *cluster_key(p)) if cluster else None
        mk = ("scanner_momentum", *momentum_key(p)) if momentum else None
        rk = ("scanner_reversion", *reversion_key(p)) if reversion else None
        have = memo if memo is not None else {}
        do_c, do_m, do_r = (k is not None and k not in have for k in (ck, mk, rk))
        if do_c or do_m or do_r:
            self._compute(p, o, c, v, have, ck if do_c else None, mk if do_m else None, rk if do_r else None)
        if cluster:
            self.counts_, self.trend, self.strength = have[ck]
        else:
            self.counts_ = np.empty((0, K.N_COUNTS), dtype=np.int64)
            self.trend = np.empty(0, dtype=np.int64)
            self.strength = np.empty(0)
        self.mscore: np.ndarray
        self.msign: np.ndarray
        self.mscore, self.msign = have[mk] if momentum else (np.empty(0), np.empty(0, dtype=np.int64))
        self.streak: np.ndarray
        self.peak: np.ndarray
        self.votes: np.ndarray
        self.streak, self.peak, self.votes = have[rk] if reversion else (
            np.empty((0, 2), dtype=np.int64), np.empty(0), np.empty((0, 2), dtype=np.int64))
        self.change_bars = p.change_bars if momentum else 0
        self.gain_bars = p.gain_bars if reversion else 0
        self.rev_ready = np.zeros(n if reversion else 0, dtype=bool)
        if reversion:
            self.rev_ready[reversion_warmup(p):] = True
        if momentum:
            with np.errstate(invalid="ignore"):
                self.mom_ready = mean > 0.0
            self.mom_ready[: max(p.volume_window, p.change_bars)] = False
        else:
            self.mom_ready = np.zeros(0, dtype=bool)

    def _compute(self, p: Any, o: np.ndarray, c: np.ndarray, v: np.ndarray, have: dict[Any, Any],
                 ck: tuple[Any, ...] | None, mk: tuple[Any, ...] | None, rk: tuple[Any, ...] | None) -> None:
        """Run the kernel for the parts whose key is given, store them in ``have``."""
        n = len(c)
        ip = np.zeros(K.N_IP, dtype=np.int64)
        fp = np.zeros(K.N_FP, dtype=np.float64)
        ip[K.IP_W] = p.volume_window
        ip[K.IP_CLUSTER] = ck is not None
        ip[K.IP_MOMENTUM] = mk is not None
        ip[K.IP_REVERSION] = rk is not None
        if ck is not None or mk is not None:
            ip[K.IP_L], ip[K.IP_F], ip[K.IP_MIN_CC] = p.cluster_lookback, p.follow_bars, p.min_cluster_candles
            fp[K.FP_HV_MULT], fp[K.FP_TREND_RATIO], fp[K.FP_FT_MIN] = p.hv_mult, p.trend_ratio, p.follow_through_min
        if mk is not None:
            ip[K.IP_CHANGE] = p.change_bars
            ip[K.IP_MOM_WARM] = max(p.volume_window, p.change_bars)
            fp[K.FP_SCALE] = p.score_scale
        if rk is not None:
            ip[K.IP_STREAK], ip[K.IP_PEAK], ip[K.IP_GAIN] = p.streak_min, p.peak_lookback, p.gain_bars
            ip[K.IP_REV_WARM] = reversion_warmup(p)
            fp[K.FP_VOL_MULT], fp[K.FP_VOL_DECLINE], fp[K.FP_GAIN_PCT] = p.volume_mult, p.volume_decline, p.gain_pct
            fp[K.FP_RSI_OB], fp[K.FP_RSI_OS] = p.rsi_overbought, p.rsi_oversold
        nm = n if mk is not None else 0
        nr = n if rk is not None else 0
        # every row of these is written by the kernel
        if ck is not None:
            cl = (np.empty((n, K.N_COUNTS), dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n))
        elif mk is not None:  # momentum reads the clustering computed before
            cl = have[("scanner_cluster", *cluster_key(p))]
        else:
            cl = (np.empty((0, K.N_COUNTS), dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
        mo = (np.empty(nm), np.empty(nm, dtype=np.int64))
        rv = (np.empty((nr, 2), dtype=np.int64), np.empty(nr), np.empty((nr, 2), dtype=np.int64))
        K.scanner_kernel(o, c, v, self.rsi, ip, fp, self.mean, cl[0], cl[1], cl[2], mo[0], mo[1], rv[0], rv[1],
                         rv[2])
        if ck is not None:
            have[ck] = cl
        if mk is not None:
            have[mk] = mo
        if rk is not None:
            have[rk] = rv

    def counts(self, i: int) -> ClusterCounts:
        return ClusterCounts(*self.counts_[i].tolist())

    def momentum_rows(self, idx: np.ndarray) -> list[tuple[Any, ...]]:
        """:meth:`ScannerState.momentum_inputs` of the bars ``idx``."""
        c = self.close
        return list(zip(c[idx].tolist(), self.volume[idx].tolist(), c[idx - self.change_bars].tolist(),
                        self.mean[idx].tolist(), map(ClusterCounts._make, self.counts_[idx].tolist()),
                        strict=True))

    def reversion_rows(self, idx: np.ndarray) -> list[tuple[Any, ...]]:
        """:meth:`ScannerState.reversion_inputs` of the bars ``idx``."""
        c = self.close
        return list(zip(c[idx].tolist(), self.volume[idx].tolist(), self.streak[idx, 0].tolist(),
                        self.streak[idx, 1].tolist(), self.mean[idx].tolist(), self.peak[idx].tolist(),
                        c[idx - self.gain_bars].tolist(), self.rsi[idx].tolist(), strict=True))

    def reversion_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(reversion_score, sign +1 bullish / -1 bearish / 0) per bar, 0 where not ready."""
        bear, bull = self.votes[:, 0], self.votes[:, 1]
        return 25.0 * np.maximum(bear, bull), np.sign(bull - bear)


def scanner_series(p: Any, o: np.ndarray, c: np.ndarray, v: np.ndarray, *, clustering: bool = False,
                   momentum: bool = False, reversion: bool = False) -> ScannerSeries:
    """Batch :class:`ScannerState` over whole arrays (the parts asked for)."""
    return ScannerSeries(p, o, c, v, clustering=clustering, momentum=momentum, reversion=reversion)


def scanner_series_of(p: Any, bars: Any, *, clustering: bool = False, momentum: bool = False,
                      reversion: bool = False) -> ScannerSeries:
    """:func:`scanner_series` of a :class:`detectors.base.BarArrays`, sharing every
    part with the other detectors of the run through ``bars.shared``."""
    return ScannerSeries(p, bars.open, bars.close, bars.volume, clustering=clustering, momentum=momentum,
                         reversion=reversion, memo=bars.shared)
