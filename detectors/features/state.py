"""Exact checkpoint and correction support for detectors with long memory.

The base :class:`~detectors.base.Detector` rebuilds state by replaying its bounded
``history``; that is exact only when a detector forgets everything older than
``history_bars``. Wilder RSI (infinite impulse response) and run detection (the
previous high-volume candle may be far back) never forget, so detectors using them
subclass :class:`SnapshotDetector` instead:

* ``_snapshot()`` returns the whole streaming state as plain tuples/numbers
  (bounded: ring buffers and scalars only) and ``_restore(snap)`` puts it back;
* undo and checkpoints come from :class:`~detectors.patterns.exact_state.ExactStateMixin`
  (amortized snapshots, exact corrected last bar, checkpoint = the snapshot);
  this class only adds the deep tuple conversion its nested snapshots need.
"""

from __future__ import annotations

from typing import Any

from detectors.base import Detector
from detectors.patterns.exact_state import ExactStateMixin


class SnapshotDetector(ExactStateMixin, Detector):
    """A detector whose nested snapshot (tuples of tuples) is restored exactly."""

    def _thaw(self, raw: Any) -> Any:
        return _tuples(raw)


def _tuples(obj: Any) -> Any:
    """msgpack gives lists back; snapshots are tuples all the way down."""
    if isinstance(obj, list):
        return tuple(_tuples(x) for x in obj)
    return obj
