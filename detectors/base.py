"""The detector contract: one small base class every detector subclasses.

A detector instance follows ONE series (exchange, market, symbol, timeframe). The
streaming path calls :meth:`Detector.update` once per closed candle; the batch path
calls :meth:`Detector.run_batch` once per frame. Both must return the same signals
(``emitted_at`` aside) for the same candles: the contract suite checks it on real
data for every registered detector.

Lifecycle, and when each method is called:

``__init__(**params)``
    Once, when the worker first sees a series or a backtest starts. Validates the
    parameters (unknown names and bad values raise ``ValueError``). No I/O.
``update(candle)``
    For every closed candle, in open-time order. The base class enforces the
    idempotency rules of DESIGN.md before calling :meth:`_step`:

    * a candle older than the last one seen is a late correction: state is left
      alone and ``[]`` is returned (the caller counts it);
    * the same candle again returns the signals it produced the first time and
      leaves state unchanged (at-least-once redelivery);
    * the same open time with different values (a corrected last bar) rebuilds
      state from the bounded history kept in :attr:`history` and re-evaluates.
    * candles with non-finite or non-positive prices or negative volume are
      treated as missing data: no state change, no signal.
``_step(bar)``
    Implemented by subclasses: advance state by one bar, return signals for it.
``_batch(bars, meta)``
    Implemented by subclasses: vectorized evaluation over a whole series.
``get_state() / set_state(blob)``
    Called by the worker to checkpoint and restore state (msgpack bytes).
"""

from __future__ import annotations

import gc
import math
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import msgspec
import numpy as np

from detectors.records import Candle, Signal, TradePlan, params_hash, signal_stream_id
from detectors.timeframes import infer_tf, tf_ms


class SeriesMeta(msgspec.Struct, frozen=True):
    """Identity of the series a detector follows."""

    exchange: str
    market: str
    symbol: str
    tf: str


class Bar(msgspec.Struct, array_like=True):
    """One bar as the detectors see it (a plain, cheap struct)."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class BarArrays(msgspec.Struct):
    """A whole series as numpy arrays, sorted by open time, no duplicates, no NaN.

    ``shared`` memoizes per-bar state that several detectors of one batch run
    compute identically (the batch side of :class:`DetectorSet`'s shared feeds):
    a member stores its kernel's output under a key naming the computation and
    every parameter it depends on, and the next member with the same key reuses
    it. It lives and dies with the arrays of one run.
    """

    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    shared: dict[Any, Any] = msgspec.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.open_time)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_INF = math.inf


def bar_is_valid(o: float, h: float, low: float, c: float, v: float) -> bool:
    """Positive finite prices, finite non-negative volume, high >= low (every
    comparison with NaN is false, so NaN anywhere is invalid)."""
    return (0.0 < o < _INF and 0.0 < h < _INF and 0.0 < low < _INF and 0.0 < c < _INF
            and 0.0 <= v < _INF and h >= low)


def frame_to_arrays(frame: Any) -> BarArrays:
    """Columns open_time (ms), open, high, low, close, volume of a pandas or polars
    frame as float64/int64 arrays: sorted by open time, last duplicate kept, rows
    with missing or invalid values dropped (missing data never yields a signal)."""
    cols = ("open_time", "open", "high", "low", "close", "volume")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing}; needs {list(cols)}")
    if hasattr(frame, "to_numpy") and hasattr(frame, "get_column"):  # polars
        arrays = {c: frame.get_column(c).to_numpy() for c in cols}
    else:
        arrays = {c: frame[c].to_numpy() for c in cols}
    t = np.asarray(arrays["open_time"], dtype=np.int64)
    o, h, lo, c, v = (np.asarray(arrays[k], dtype=np.float64) for k in cols[1:])
    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v)
            & (o > 0) & (h > 0) & (lo > 0) & (c > 0) & (v >= 0) & (h >= lo)
        )
    order = np.argsort(t[ok], kind="stable")
    t = t[ok][order]
    o, h, lo, c, v = (a[ok][order] for a in (o, h, lo, c, v))
    if len(t) > 1:  # keep the last of equal open times, as streaming does
        keep = np.ones(len(t), dtype=bool)
        keep[:-1] = t[1:] != t[:-1]
        t = t[keep]
        o, h, lo, c, v = (a[keep] for a in (o, h, lo, c, v))
    return BarArrays(open_time=t, open=o, high=h, low=lo, close=c, volume=v)


class Detector(ABC):
    """Base class of every detector. Subclasses set ``name``, ``version``,
    ``Params`` (a msgspec Struct with defaults) and implement ``_step``, ``_batch``,
    ``_reset`` and the ``warmup`` property."""

    name: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[msgspec.Struct]]
    #: bars of raw history kept for rebuilding state after a corrected last bar
    history_bars: ClassVar[int] = 64

    def __init__(self, **params: Any) -> None:
        try:
            self.params = msgspec.convert(params, self.Params, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"detector {self.name}: bad parameters: {exc}") from None
        self._check_params()
        self.params_hash = params_hash(msgspec.to_builtins(self.params))
        self.meta: SeriesMeta | None = None
        self.last_open_time: int | None = None
        self.stale_candles = 0
        self._last_bar: Bar | None = None
        self._last_signals: list[Signal] = []
        self.history: deque[Bar] = deque(maxlen=self.history_bars)
        self._signal_prefix: tuple[SeriesMeta, str, int] | None = None
        self._batch_now = 0
        self._reset()

    # ---- subclass hooks -------------------------------------------------
    def _check_params(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Raise ValueError on parameter values that are out of range."""

    @property
    @abstractmethod
    def warmup(self) -> int:
        """Bars needed before the first signal can be emitted."""

    @abstractmethod
    def _reset(self) -> None:
        """Clear streaming state."""

    @abstractmethod
    def _step(self, bar: Bar) -> list[Signal]:
        """Advance state by one closed bar and return its signals."""

    @abstractmethod
    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        """Evaluate a whole series at once; must equal feeding ``_step`` bar by bar."""

    # ---- streaming ------------------------------------------------------
    def update(self, candle: Candle) -> list[Signal]:
        """Feed one closed candle; returns the signals it triggers."""
        if self.meta is None:
            self.meta = SeriesMeta(candle.exchange, candle.market, candle.symbol, candle.tf)
        bar = Bar(candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)
        return self.update_bar(bar)

    def update_bar(self, bar: Bar) -> list[Signal]:
        if not bar_is_valid(bar.open, bar.high, bar.low, bar.close, bar.volume):
            return []
        last = self.last_open_time
        if last is not None:
            if bar.open_time < last:
                self.stale_candles += 1
                return []
            if bar.open_time == last:
                if bar == self._last_bar:
                    return list(self._last_signals)
                return self._rebuild_with(bar)
        signals = self._step(bar)
        self.history.append(bar)
        self.last_open_time = bar.open_time
        self._last_bar = bar
        self._last_signals = signals
        return signals

    def _rebuild_with(self, bar: Bar) -> list[Signal]:
        bars = list(self.history)[:-1] + [bar]
        self._reset()
        self.history.clear()
        self.last_open_time = None
        signals: list[Signal] = []
        for b in bars:
            signals = self.update_bar(b)
        return signals

    # ---- batch ----------------------------------------------------------
    def run_batch(
        self,
        frame: Any,
        *,
        exchange: str = "unknown",
        market: str = "spot",
        symbol: str = "UNKNOWN",
        tf: str | None = None,
    ) -> list[Signal]:
        """Vectorized evaluation of a pandas or polars frame with columns
        open_time (ms), open, high, low, close, volume. ``tf`` defaults to the
        frame's own timeframe (:func:`detectors.timeframes.infer_tf`): it sets
        the signals' ``tf``, ``event_time`` (bar close) and ids."""
        bars = frame_to_arrays(frame)
        return self._run_arrays(bars, SeriesMeta(exchange, market, symbol, tf or infer_tf(bars.open_time)))

    def _run_arrays(self, bars: BarArrays, meta: SeriesMeta, now: int = 0) -> list[Signal]:
        self.meta = meta
        self._batch_now = now or now_ms()  # one emission time for a whole batch run
        with _gc_paused():
            try:
                return self._batch(bars, meta)
            finally:
                self._batch_now = 0

    # ---- checkpointing --------------------------------------------------
    def get_state(self) -> bytes:
        """Serialized streaming state (bounded). Default: the raw history, which
        rebuilds state exactly for detectors whose memory fits ``history_bars``."""
        return msgspec.msgpack.encode(
            {"meta": self.meta, "bars": list(self.history), "stale": self.stale_candles}
        )

    def set_state(self, blob: bytes) -> None:
        data = msgspec.msgpack.decode(blob, type=dict[str, Any])
        self._reset()
        self.history.clear()
        self.last_open_time = None
        self.meta = msgspec.convert(data["meta"], SeriesMeta | None)
        for raw in data["bars"]:
            self.update_bar(msgspec.convert(raw, Bar))
        self.stale_candles = data.get("stale", 0)

    # ---- helpers for subclasses ------------------------------------------
    def make_signal(
        self,
        meta: SeriesMeta | None,
        open_time: int,
        *,
        signal_type: str,
        direction: str,
        score: float,
        price: float,
        features: dict[str, Any] | None = None,
        trade_plan: TradePlan | None = None,
    ) -> Signal:
        """One signal for the bar that opened at ``open_time`` (the streaming path;
        batch paths build many with :meth:`signal_maker`). ``score`` is clamped to
        0-100 (NaN gives 0)."""
        t = int(open_time)
        m = meta or self.meta or _UNKNOWN_META
        cached = self._signal_prefix
        if cached is None or cached[0] is not m:
            self._stream_prefix(m)
            cached = self._signal_prefix
        score = float(score)
        return Signal(  # positional: see detectors.records.Signal
            f"{cached[1]}{t}", m.exchange, m.market, m.symbol, m.tf,  # type: ignore[index]
            self.name, self.version, self.params_hash,
            t, t + cached[2], self._batch_now or time.time_ns() // 1_000_000,  # type: ignore[index]
            signal_type, direction,
            100.0 if score > 100.0 else 0.0 if not score > 0.0 else score,
            float(price), features or {}, trade_plan,
        )

    def _stream_prefix(self, m: SeriesMeta) -> tuple[str, int]:
        """``"<stream id>-"`` of this detector on series ``m`` and the candle span
        minus 1 ms, computed once per series (see :func:`records.signal_id`)."""
        cached = self._signal_prefix
        if cached is None or cached[0] is not m:
            cached = self._signal_prefix = (
                m,
                signal_stream_id(m.exchange, m.market, m.symbol, m.tf, self.name, self.version,
                                 self.params_hash) + "-",
                tf_ms(m.tf) - 1,
            )
        return cached[1], cached[2]

    def signal_maker(self, meta: SeriesMeta) -> Callable[..., Signal]:
        """A fast signal constructor for one batch run on series ``meta``:
        ``make(open_time, signal_type, direction, score, price, features,
        trade_plan=None)``, all positional, the same record :meth:`make_signal`
        builds. Every constant of the series is bound once, so a signal costs one
        f-string and one struct. The caller passes ``open_time`` as an int and
        ``score`` and ``price`` as Python floats (``ndarray.tolist()`` gives both);
        ``score`` is clamped to 0-100 as in :meth:`make_signal`."""
        prefix, span = self._stream_prefix(meta)
        ex, mk, sym, tf = meta.exchange, meta.market, meta.symbol, meta.tf
        name, version, ph = self.name, self.version, self.params_hash
        now = self._batch_now or now_ms()

        def make(t: int, signal_type: str, direction: str, score: float, price: float,
                 features: dict[str, Any], trade_plan: TradePlan | None = None) -> Signal:
            return Signal(f"{prefix}{t}", ex, mk, sym, tf, name, version, ph, t, t + span, now,
                          signal_type, direction, 100.0 if score > 100.0 else 0.0 if not score > 0.0 else score,
                          price, features, trade_plan)

        return make

    def _accept(self, bar: Bar) -> list[Signal]:
        """The streaming fast path for a valid bar newer than the last one (what
        :meth:`update_bar` does after its checks); :class:`DetectorSet` calls it
        after checking once for all its detectors."""
        signals = self._step(bar)
        self.history.append(bar)
        self.last_open_time = bar.open_time
        self._last_bar = bar
        self._last_signals = signals
        return signals


_UNKNOWN_META = SeriesMeta("unknown", "spot", "UNKNOWN", "1m")


class _Missing(KeyError):
    """A member absent from a set checkpoint (it starts fresh, silently)."""


#: what restoring a checkpoint of another layout raises
_RESTORE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AssertionError, msgspec.DecodeError)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch run allocates its signals: the
    collector's generation-0 passes over a growing list of fresh records cost up to
    a third of a signal-heavy batch run. Records hold no cycles; the collector runs
    again (and catches up) right after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class DetectorSet:
    """Every detector of one series behind one front end.

    The worker runs the whole configured set on each candle; checking validity
    and ordering once for the set instead of once per detector is most of what a
    cheap detector costs. Semantics are those of :meth:`Detector.update`, applied
    to each member: the members always see the same bars, so a candle that is new
    for one is new for all, and the idempotency cases (same candle again,
    corrected last bar, late candle) are delegated to each member unchanged.

    Per-bar state several members compute identically (see
    :mod:`detectors.patterns.exact_state`, "Shared per-bar state") is computed once:
    fresh members with compatible ``feed_spec`` are attached to one feed, advanced
    here before the members step; a corrected last bar rebuilds the feeds before
    the members. :meth:`get_state` checkpoints feeds and members together.
    """

    def __init__(self, detectors: dict[str, Detector], *, share: bool = True) -> None:
        self._by_name = dict(detectors)
        self._members = list(self._by_name.values())
        self.meta: SeriesMeta | None = None
        self._feeds: list[Any] = self._share() if share else []
        self._last: int | None = max((d.last_open_time for d in self._members if d.last_open_time is not None),
                                     default=None)
        # The fast path steps the members and keeps their bookkeeping (last bar, its
        # signals, raw history: what Detector._accept does) here, once for all of
        # them; _sync hands it to the members before anything reads it there.
        self._recent: deque[Bar] = deque(maxlen=max([d.history.maxlen or 0 for d in self._members] + [1]))
        self._pending = 0  # bars of _recent the members' bookkeeping lacks
        self._results: list[list[Signal]] = []  # the last bar's signals, per member
        self._steps = self._make_plan()

    def _make_plan(self) -> list[Any]:
        """Each member's step, in member order (after feeds are attached: attaching
        one may replace a member's step)."""
        return [det._step for det in self._members]

    def _sync(self) -> None:
        """Bring every member's own bookkeeping up to date with the fast path."""
        n = self._pending
        if not n:
            return
        recent = list(self._recent)[-n:]
        last = recent[-1]
        for det, sigs in zip(self._members, self._results, strict=True):
            if det.history.maxlen:
                det.history.extend(recent)
            det.last_open_time = last.open_time
            det._last_bar = last
            det._last_signals = sigs
        self._pending = 0

    @property
    def detectors(self) -> dict[str, Detector]:
        """The members by name (their bookkeeping brought up to date)."""
        self._sync()
        return self._by_name

    def _share(self) -> list[Any]:
        """Attach fresh members with compatible feed specs to one feed per group."""
        groups: list[tuple[type, dict[str, Any], list[Detector]]] = []
        for det in self._members:
            spec = det.feed_spec() if hasattr(det, "feed_spec") and det.last_open_time is None else None
            if spec is None:
                continue
            cls, fields = spec
            for gcls, gfields, dets in groups:
                if gcls is cls and all(gfields.get(k, v) == v for k, v in fields.items()):
                    gfields.update(fields)
                    dets.append(det)
                    break
            else:
                groups.append((cls, dict(fields), [det]))
        feeds = []
        for cls, fields, dets in groups:
            if len(dets) > 1:
                feed = cls(fields)
                for det in dets:
                    det.attach_feed(feed)  # type: ignore[attr-defined]
                feeds.append(feed)
        return feeds

    def __len__(self) -> int:
        return len(self._members)

    @property
    def last_open_time(self) -> int | None:
        """Open time of the last bar the set accepted."""
        return self._last

    def update(self, candle: Candle) -> list[Signal]:
        """Feed one closed candle to every member; their signals, in member order."""
        if self.meta is None:
            self.set_meta(SeriesMeta(candle.exchange, candle.market, candle.symbol, candle.tf))
        return self.update_bar(Bar(candle.open_time, candle.open, candle.high, candle.low, candle.close,
                                   candle.volume))

    def update_bar(self, bar: Bar) -> list[Signal]:
        last = self._last
        if last is not None and bar.open_time <= last:
            out: list[Signal] = []
            self._sync()
            if bar.open_time == last and bar_is_valid(bar.open, bar.high, bar.low, bar.close, bar.volume):
                for feed in self._feeds:  # a corrected last bar: the shared state first
                    lb = feed.last_bar
                    if lb is not None and lb.open_time == last and lb != bar:
                        feed.rebuild_with(bar)
            for det in self._members:  # redelivery, correction or late candle: per member rules
                out.extend(det.update_bar(bar))
            return out
        if not bar_is_valid(bar.open, bar.high, bar.low, bar.close, bar.volume):
            return []
        for feed in self._feeds:
            feed.step(bar)
        self._results = results = [step(bar) for step in self._steps]
        self._recent.append(bar)
        self._pending += 1
        self._last = bar.open_time
        return [sig for sigs in results if sigs for sig in sigs]

    # ---- checkpointing --------------------------------------------------
    def get_state(self) -> bytes:
        """Every shared feed's and every member's state (msgpack)."""
        self._sync()
        return msgspec.msgpack.encode({
            "feeds": {feed.tag: feed.get_state() for feed in self._feeds},
            "members": {name: det.get_state() for name, det in self._by_name.items()},
        })

    def set_state(self, blob: bytes) -> list[tuple[str, Exception]]:
        """Restore a :meth:`get_state` checkpoint into this (fresh) set. A member whose
        state cannot be taken (another layout or parameters, or its shared feed's
        state not restorable) or that the checkpoint lacks is replaced by a fresh
        private instance that warms up again; returns the members that failed, with
        the reason (one merely missing is not listed). A blob that is not a set
        checkpoint at all raises ``ValueError`` or ``msgspec.DecodeError``."""
        try:
            data = msgspec.msgpack.decode(blob, type=dict[str, dict[str, bytes]])
            feeds, members = data["feeds"], data["members"]
        except (KeyError, msgspec.ValidationError) as exc:
            raise ValueError(f"not a detector set checkpoint: {exc}") from None
        broken: dict[int, Exception] = {}
        for feed in self._feeds:
            try:
                feed.set_state(feeds[feed.tag])
            except _RESTORE_ERRORS as exc:
                broken[id(feed)] = exc
        failed: list[tuple[str, Exception]] = []
        self._pending = 0  # what the fast path kept is replaced by the checkpoint
        for i, (name, det) in enumerate(list(self._by_name.items())):
            feed = None if getattr(det, "_own", True) else det._feed  # type: ignore[attr-defined]
            try:
                if name not in members:
                    raise _Missing(name)
                if feed is not None and id(feed) in broken:
                    raise ValueError(f"shared state not restorable ({broken[id(feed)]})")
                det.set_state(members[name])
                if feed is not None and feed.last_bar != det._last_bar:
                    raise ValueError("checkpoint of the detector and of its shared state disagree")
            except _RESTORE_ERRORS as exc:
                fresh = type(det)(**msgspec.structs.asdict(det.params))
                self._by_name[name] = self._members[i] = fresh
                if not isinstance(exc, _Missing):
                    failed.append((name, exc))
        self._feeds = [f for f in self._feeds if any(getattr(d, "_feed", None) is f for d in self._members)]
        self._last = max((d.last_open_time for d in self._members if d.last_open_time is not None), default=None)
        self._steps = self._make_plan()
        return failed

    def set_meta(self, meta: SeriesMeta) -> None:
        self.meta = meta
        for det in self._members:
            det.meta = meta

    def run_batch(self, frame: Any, *, exchange: str = "unknown", market: str = "spot",
                  symbol: str = "UNKNOWN", tf: str | None = None) -> list[Signal]:
        """Every member's batch evaluation of one frame (converted once); ``tf``
        as in :meth:`Detector.run_batch` (default: the frame's own)."""
        bars = frame_to_arrays(frame)
        meta = SeriesMeta(exchange, market, symbol, tf or infer_tf(bars.open_time))
        now = now_ms()
        out: list[Signal] = []
        with _gc_paused():  # once for the set: each re-enable pays a collection
            for det in self._members:
                out.extend(det._run_arrays(bars, meta, now))
        return out
