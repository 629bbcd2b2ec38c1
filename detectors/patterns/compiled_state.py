"""Detectors whose whole streaming state is one float64 vector advanced by a
compiled step function, the same function their batch kernel calls in a loop.

A *core* module (:mod:`detectors.patterns.futures_core`,
:mod:`~detectors.patterns.trend_core`, :mod:`~detectors.patterns.candles`)
provides:

``LAYOUT``
    a tag for snapshots (a checkpoint of another layout is refused);
``initial_state(prm)`` / ``state_size(prm)``
    the state vector before the first bar (state proper, then a scratch area
    where a signalling bar leaves the values its signal is built from) and the
    length of the state proper;
``step(s, prm, o, h, lo, c, v)``
    advance ``s`` by one valid bar; non-zero when the bar signals;
``batch(prm, o, h, lo, c, v)``
    ``(at, values)``: the indices of the signalling bars and, per row, the
    scratch area the step left for each.

Streaming and batch run the same compiled code, so they agree bit for bit by
construction; the per-bar cost is one call into compiled code plus, for a
signalling bar, building the signal in Python (:meth:`CompiledStateDetector._signal`,
shared by both paths). Undo snapshots and checkpoints (``ExactStateMixin``) are
the state proper as a tuple of floats behind the layout tag.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.features.rounds import in_rounds
from detectors.indicators._jit import numba
from detectors.patterns.exact_state import ExactStateMixin
from detectors.records import Signal

_ENTRIES: dict[Any, Callable[..., Any]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def step_kernel(fn: F) -> F:
    """:func:`detectors.indicators._jit.kernel` for a core's per-bar ``step``, which
    streaming calls from Python once per bar: compiled (cached, IEEE arithmetic) but
    keeping the GIL, since releasing and re-taking it costs about 0.1 µs a call, a
    good part of what a cheap step computes. Batch kernels calling the step from
    compiled code are unaffected."""
    if numba is None:
        return fn
    return numba.njit(cache=True, fastmath=False)(fn)  # type: ignore[return-value]


def compiled_entry(step: Any, *example: Any) -> Callable[..., Any]:
    """The compiled entry point of numba function ``step`` for the types of
    ``example`` (compiled or loaded from cache on first use): calling it skips
    numba's per-call type dispatch (~0.4 µs). Falls back to ``step`` itself when
    numba is off or its dispatcher does not expose compiled overloads."""
    entry = _ENTRIES.get(step)
    if entry is None:
        entry = _ENTRIES[step] = _entry_of(step, example)
    return entry


def _entry_of(step: Any, example: tuple[Any, ...]) -> Callable[..., Any]:
    overloads = getattr(step, "overloads", None)
    if overloads is None:  # plain Python (SCANFLOW_NO_JIT=1)
        return step
    try:
        import numba

        step(*example)
        entry: Callable[..., Any] = overloads[tuple(numba.typeof(a) for a in example)].entry_point
    except (AttributeError, KeyError):  # pragma: no cover - another numba's internals
        return step
    return entry


class CompiledStateDetector(ExactStateMixin, Detector):
    """Base of detectors built on a core module (see the module docstring)."""

    #: the core module (set by each subclass)
    core: ModuleType

    @abstractmethod
    def _core_params(self) -> np.ndarray:
        """The parameter vector the core's step reads."""

    @abstractmethod
    def _signal(self, *args: Any, **kwargs: Any) -> Signal:
        """``_signal(meta, open_time, high, low, close, *hit)``: the signal of a bar,
        from the scratch values the step left (both paths call it)."""

    # ---- state ------------------------------------------------------------------------
    def _reset(self) -> None:
        core = self.core
        self._prm = prm = self._core_params()
        self._s = core.initial_state(prm)
        self._size = core.state_size(prm)
        self._scratch = self._s[self._size:]  # a view: where a signalling bar leaves its values
        # the example call runs on a throwaway state (the types matter, not the values)
        self._step_fn = compiled_entry(core.step, core.initial_state(prm), prm, 1.0, 1.0, 1.0, 1.0, 1.0)

    def _snapshot(self) -> tuple:
        return (self.core.LAYOUT, *self._s[:self._size].tolist())

    def _restore(self, snap: tuple) -> None:
        layout = self.core.LAYOUT
        if not snap or snap[0] != layout or len(snap) != self._size + 1:
            raise ValueError(f"detector {self.name}: state is not a {layout!r} snapshot of {self._size} values "
                             "for these parameters (a checkpoint from another version or configuration; "
                             "start the series afresh)")
        self._s[:self._size] = snap[1:]

    # ---- streaming ----------------------------------------------------------------------
    def _advance(self, bar: Bar) -> list[Signal]:
        if self._step_fn(self._s, self._prm, bar.open, bar.high, bar.low, bar.close, bar.volume):
            return [self._signal(self.meta, bar.open_time, bar.high, bar.low, bar.close,
                                 *self._scratch.tolist())]
        return []

    # ---- batch: the same step in the core's kernel, signals built only for hits -------------
    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        at, vals = self.core.batch(self._prm, bars.open, bars.high, bars.low, bars.close, bars.volume)
        build = self._batch_signals
        return in_rounds(len(at), lambda i, j: build(bars, meta, at[i:j], vals[i:j]))

    def _batch_signals(self, bars: BarArrays, meta: SeriesMeta, at: np.ndarray, vals: np.ndarray
                       ) -> list[Signal]:
        """The signals of the hit bars ``at``, row ``j`` of ``vals`` holding the
        scratch values of hit ``j``; called in rounds of hits (see
        :mod:`detectors.features.rounds`). Default: :meth:`_signal` per hit, as
        streaming builds them. A subclass may override it with a column-wise builder
        (on :meth:`Detector.signal_maker`) that gives the same signals for less
        Python per hit; streaming keeps calling :meth:`_signal`."""
        signal = self._signal
        return [signal(meta, t, h, lo, c, *row) for t, h, lo, c, row in zip(
            bars.open_time[at].tolist(), bars.high[at].tolist(), bars.low[at].tolist(),
            bars.close[at].tolist(), vals.tolist(), strict=True)]
