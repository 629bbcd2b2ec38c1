"""The incremental indicator contract (talipp style).

An indicator instance follows one series. It keeps only bounded state: a few
scalars and fixed-size ring buffers, never the whole history.

``update(*inputs)``
    Append a new bar (or value) and return the indicator value for it; NaN (or a
    tuple with NaN) while warming up.
``update_last(*inputs)``
    Replace the most recent bar (a still-open candle that changed) and return the
    new value. State goes back to what it was before the last ``update`` and the
    step is applied again, so ``update(a); update_last(b)`` equals ``update(b)``.
``value``
    The latest value.

Every indicator also exists as a vectorized function over numpy arrays with the
same name in lower case (``RSI`` / ``rsi``); both forms give bit-identical
results because they run the same scalar arithmetic in the same order (the
vectorized form in a compiled loop). Subclasses list their scalar state in
``_state``, their ring buffers in ``_rings`` and nested indicators in
``_children``; the base class snapshots those before each step, which makes
``update_last`` exact and O(1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar

NAN = math.nan


class Ring:
    """Fixed-size ring buffer of floats with a one-step undo."""

    __slots__ = ("buf", "size", "idx", "count", "_m_idx", "_m_count", "_m_old")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"ring size must be >= 1, got {size}")
        self.buf = [0.0] * size
        self.size = size
        self.idx = 0  # next slot to write
        self.count = 0
        self._m_idx = 0
        self._m_count = 0
        self._m_old = 0.0

    def push(self, x: float) -> float:
        """Append ``x``; return the value it evicts (0.0 while not yet full)."""
        i = self.idx
        old = self.buf[i]
        self.buf[i] = x
        i += 1
        self.idx = 0 if i == self.size else i
        if self.count < self.size:
            self.count += 1
        return old

    def oldest(self) -> float:
        """Value that the next push evicts (valid once full)."""
        return self.buf[self.idx]

    def get(self, back: int) -> float:
        """``back`` = 0 is the newest value, 1 the one before, ..."""
        return self.buf[(self.idx - 1 - back) % self.size]

    def values(self) -> list[float]:
        """Oldest to newest."""
        if self.count < self.size:
            return self.buf[: self.count]
        return self.buf[self.idx :] + self.buf[: self.idx]

    def mark(self) -> None:
        self._m_idx = self.idx
        self._m_count = self.count
        self._m_old = self.buf[self.idx]

    def restore(self) -> None:
        self.buf[self._m_idx] = self._m_old
        self.idx = self._m_idx
        self.count = self._m_count


class Indicator:
    """Base class of the incremental indicators. Subclasses implement ``_step``."""

    #: names of scalar state attributes (snapshotted before each update)
    _state: ClassVar[tuple[str, ...]] = ()
    #: names of :class:`Ring` attributes
    _rings: ClassVar[tuple[str, ...]] = ()
    #: names of nested :class:`Indicator` attributes (stepped via ``_step``)
    _children: ClassVar[tuple[str, ...]] = ()
    _getter: ClassVar[Any] = None

    #: number of inputs consumed before the first non-NaN value (TA-Lib "lookback")
    lookback: int = 0

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        names = ("_n", "_value", *cls._state)
        cls._names = names  # type: ignore[attr-defined]
        cls._getter = attrgetter(*names)
        cls._nested = bool(cls._rings or cls._children)  # type: ignore[attr-defined]

    def __init__(self) -> None:
        self._n = 0
        self._value: Any = NAN
        self._snap: tuple[Any, ...] | None = None

    # ---- subclass hook ----------------------------------------------------
    #: advance by one bar's inputs and return the new value (each subclass
    #: defines it with its own inputs, e.g. ``_step(self, close)``)
    _step: Callable[..., Any]

    # ---- public API --------------------------------------------------------
    @property
    def value(self) -> Any:
        return self._value

    @property
    def count(self) -> int:
        """Inputs consumed so far (``update_last`` does not count)."""
        return self._n

    @property
    def ready(self) -> bool:
        return self._n > self.lookback

    def update(self, *inputs: float) -> Any:
        self._snap = self._getter(self)
        if self._nested:  # type: ignore[attr-defined]
            self._mark_nested()
        v = self._value = self._step(*inputs)
        self._n += 1
        return v

    def update_last(self, *inputs: float) -> Any:
        if self._snap is None:
            raise ValueError(f"{type(self).__name__}.update_last: there is no bar to replace yet")
        self._restore()
        v = self._value = self._step(*inputs)
        self._n += 1
        return v

    # ---- snapshot / restore ------------------------------------------------
    def _mark(self) -> None:
        self._snap = self._getter(self)
        self._mark_nested()

    def _mark_nested(self) -> None:
        for r in self._rings:
            getattr(self, r).mark()
        for c in self._children:
            getattr(self, c)._mark()

    def _restore(self) -> None:
        for name, val in zip(self._names, self._snap, strict=True):  # type: ignore[attr-defined, arg-type]
            setattr(self, name, val)
        for r in self._rings:
            getattr(self, r).restore()
        for c in self._children:
            getattr(self, c)._restore()

    def _child_step(self, child: Indicator, *inputs: float) -> Any:
        """Advance a nested indicator (its snapshot is taken by the parent's mark)."""
        v = child._value = child._step(*inputs)
        child._n += 1
        return v

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self._value!r}, count={self._n})"


def check_period(name: str, period: int, minimum: int = 1) -> int:
    if not isinstance(period, int) or isinstance(period, bool) or period < minimum:
        raise ValueError(f"indicator {name}: period must be an int >= {minimum}, got {period!r}")
    return period
