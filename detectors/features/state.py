"""Exact checkpoint and correction support for detectors with long memory.

The base :class:`~detectors.base.Detector` rebuilds state by replaying its bounded
``history``; that is exact only when a detector forgets everything older than
``history_bars``. Wilder RSI (infinite impulse response) and run detection (the
previous high-volume candle may be far back) never forget, so detectors using them
subclass :class:`SnapshotDetector` instead:

* ``_snapshot()`` returns the whole streaming state as plain tuples/numbers
  (bounded: ring buffers and scalars only) and ``_restore(snap)`` puts it back;
* before each new bar the state is snapshotted, so a corrected last bar restores
  the state from before that bar and steps the corrected bar (exact, O(1));
* ``get_state``/``set_state`` carry the snapshot itself, not a replay.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import msgspec

from detectors.base import Bar, Detector, SeriesMeta, now_ms
from detectors.records import Signal


class SnapshotDetector(Detector):
    _before_last: Any = None

    @abstractmethod
    def _snapshot(self) -> Any:
        """The streaming state as immutable builtins (tuples, numbers, None)."""

    @abstractmethod
    def _restore(self, snap: Any) -> None:
        """Replace the streaming state with ``snap`` (from :meth:`_snapshot`)."""

    @abstractmethod
    def _advance(self, bar: Bar) -> list[Signal]:
        """Advance state by one bar and return its signals (what ``_step`` does)."""

    def _step(self, bar: Bar) -> list[Signal]:
        self._before_last = self._snapshot()
        return self._advance(bar)

    def _rebuild_with(self, bar: Bar) -> list[Signal]:
        # Same open time, different values: undo the last bar, apply the corrected one.
        self._restore(self._before_last)
        signals = self._step(bar)
        if self.history:
            self.history[-1] = bar
        self._last_bar = bar
        self._last_signals = signals
        return signals

    def get_state(self) -> bytes:
        return msgspec.msgpack.encode({
            "meta": self.meta,
            "state": self._snapshot(),
            "before": self._before_last,
            "last_open_time": self.last_open_time,
            "last_bar": self._last_bar,
            # emitted_at is wall-clock time, not state: zeroed here, set anew on restore
            "last_signals": [msgspec.structs.replace(sig, emitted_at=0) for sig in self._last_signals],
            "stale": self.stale_candles,
        })

    def set_state(self, blob: bytes) -> None:
        data = msgspec.msgpack.decode(blob, type=dict[str, Any])
        self._reset()
        self.history.clear()
        self.meta = msgspec.convert(data["meta"], SeriesMeta | None)
        self._restore(_tuples(data["state"]))
        self._before_last = _tuples(data["before"])
        self.last_open_time = data["last_open_time"]
        self._last_bar = msgspec.convert(data["last_bar"], Bar | None)
        if self._last_bar is not None:
            self.history.append(self._last_bar)
        restored_at = now_ms()
        self._last_signals = [msgspec.structs.replace(sig, emitted_at=restored_at)
                              for sig in msgspec.convert(data["last_signals"], list[Signal])]
        self.stale_candles = data.get("stale", 0)


def _tuples(obj: Any) -> Any:
    """msgpack gives lists back; snapshots are tuples all the way down."""
    if isinstance(obj, list):
        return tuple(_tuples(x) for x in obj)
    return obj
