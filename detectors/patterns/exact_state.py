"""Exact corrections and checkpoints for detectors with unbounded memory.

The base class rebuilds state after a corrected last bar by replaying the raw
``history`` it keeps, and checkpoints that history. That is exact only when a
detector's memory fits ``history_bars``. Detectors built on recursive indicators
(EMA, Wilder smoothing, Heikin Ashi) or on long-lived levels remember every bar
they ever saw, so replaying 64 bars would give a *different* state.

:class:`ExactStateMixin` fixes both with two small hooks a detector implements:

``_snapshot() -> tuple``
    A cheap copy of the whole streaming state (scalars and copies of the bounded
    ring buffers). Called before each ``_advance``.
``_restore(snapshot)``
    Put the state back exactly as it was.

and ``_advance(bar)`` in place of ``_step``. A snapshot is taken before every
``snapshot_every``-th bar and the bars advanced since are kept (at most
``snapshot_every`` of them), so the per-bar cost of undo support is amortized. A
corrected last bar restores the snapshot, replays the kept bars but the last one
and advances with the new values; a checkpoint holds the state after the last
bar plus that undo information (msgpack). Both are bit-exact.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import msgspec

from detectors.base import Bar, SeriesMeta, now_ms
from detectors.records import Signal


class ExactStateMixin(ABC):
    """Mix in *before* :class:`detectors.base.Detector` in the bases list."""

    _undo: Any = None
    _replay: list[Bar] | None = None
    #: bars to step before the next undo snapshot (0: take one now)
    _undo_left: int = 0
    #: bars between undo snapshots (1 = before every bar)
    snapshot_every: int = 32

    @abstractmethod
    def _snapshot(self) -> tuple[Any, ...]:
        """The whole streaming state as immutable builtins (tuples, numbers, None)."""

    @abstractmethod
    def _restore(self, snap: tuple[Any, ...]) -> None:
        """Replace the streaming state with ``snap`` (from :meth:`_snapshot`)."""

    @abstractmethod
    def _advance(self, bar: Bar) -> list[Signal]:
        """Advance state by one bar and return its signals (what ``_step`` does)."""

    def _step(self, bar: Bar) -> list[Signal]:
        left = self._undo_left
        if left:
            self._undo_left = left - 1
            self._replay.append(bar)
        else:
            self._undo = self._snapshot()
            self._replay = [bar]
            self._undo_left = self.snapshot_every - 1
        return self._advance(bar)

    def _rebuild_with(self, bar: Bar) -> list[Signal]:
        # the corrected bar replaces the last one: back to the snapshot, replay
        # the bars after it but the last, then advance with the corrected bar
        replay = self._replay
        assert replay is not None  # a corrected bar always follows a stepped one
        self._restore(self._undo)
        for b in replay[:-1]:
            self._advance(b)
        replay[-1] = bar
        signals = self._advance(bar)
        self.history[-1] = bar  # type: ignore[attr-defined]
        self._last_bar = bar
        self._last_signals = signals
        return signals

    def get_state(self) -> bytes:
        """Checkpoint: the exact state after the last bar, plus what the base class
        needs for its idempotency rules (last bar and its signals)."""
        return msgspec.msgpack.encode({
            "meta": self.meta,  # type: ignore[attr-defined]
            "state": self._snapshot(),
            "undo": self._undo,
            "replay": list(self._replay or []),
            "last_bar": self._last_bar,
            # emitted_at is wall-clock time, not state: a checkpoint must depend only
            # on the candles seen, so it is zeroed here and set anew on restore
            "last_signals": [msgspec.structs.replace(sig, emitted_at=0) for sig in self._last_signals],
            "history": list(self.history),  # type: ignore[attr-defined]
            "stale": self.stale_candles,  # type: ignore[attr-defined]
        })

    def set_state(self, blob: bytes) -> None:
        data = msgspec.msgpack.decode(blob, type=dict[str, Any])
        self._reset()  # type: ignore[attr-defined]
        self.meta = msgspec.convert(data["meta"], SeriesMeta | None)
        self._restore(self._thaw(data["state"]))
        self._undo = self._thaw(data["undo"]) if data["undo"] is not None else None
        self._replay = [msgspec.convert(b, Bar) for b in data["replay"]] if self._undo is not None else None
        self._undo_left = self.snapshot_every - len(self._replay) if self._replay is not None else 0
        self._last_bar = msgspec.convert(data["last_bar"], Bar | None)
        restored_at = now_ms()
        self._last_signals = [msgspec.structs.replace(sig, emitted_at=restored_at)
                              for sig in msgspec.convert(data["last_signals"], list[Signal])]
        self.history.clear()  # type: ignore[attr-defined]
        self.history.extend(msgspec.convert(b, Bar) for b in data["history"])  # type: ignore[attr-defined]
        self.last_open_time = self._last_bar.open_time if self._last_bar is not None else None
        self.stale_candles = data.get("stale", 0)

    def _thaw(self, raw: Any) -> tuple[Any, ...]:
        """msgpack turns tuples into lists; detectors whose snapshot holds
        tuples that must stay tuples override this."""
        return tuple(raw)
