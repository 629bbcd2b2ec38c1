"""Drop duplicate candles by (exchange, market, symbol, open_time).

Per key we keep the newest open time seen and a bitmask of which of the
preceding ``window`` minutes were seen: a few hundred bytes per symbol, however
long the process runs. A candle older than the window is reported as such
(``CandleDedup.TOO_OLD``): the connector routes it to the dead-letter topic
instead of guessing.
"""

from __future__ import annotations

from enum import Enum

from detectors.timeframes import MINUTE_MS


class Seen(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    TOO_OLD = "too_old"


class CandleDedup:
    """Remembers which candle open times were published, per key, in a bounded window."""

    def __init__(self, window_minutes: int = 1440, step_ms: int = MINUTE_MS) -> None:
        if window_minutes < 1:
            raise ValueError(f"window_minutes must be >= 1, got {window_minutes}")
        self.window = window_minutes
        self.step = step_ms
        self._newest: dict[str, int] = {}
        self._mask: dict[str, int] = {}  # bit i set: newest - i*step was seen

    def check(self, key: str, open_time: int) -> Seen:
        """Is this candle new? Does not record it (see :meth:`mark`)."""
        newest = self._newest.get(key)
        if newest is None or open_time > newest:
            return Seen.NEW
        offset = (newest - open_time) // self.step
        if offset >= self.window:
            return Seen.TOO_OLD
        return Seen.DUPLICATE if (self._mask[key] >> offset) & 1 else Seen.NEW

    def mark(self, key: str, open_time: int) -> None:
        newest = self._newest.get(key)
        if newest is None:
            self._newest[key] = open_time
            self._mask[key] = 1
            return
        if open_time > newest:
            shift = (open_time - newest) // self.step
            mask = (self._mask[key] << shift) | 1 if shift < self.window else 1
            self._newest[key] = open_time
            self._mask[key] = mask & ((1 << self.window) - 1)
            return
        offset = (newest - open_time) // self.step
        if offset < self.window:
            self._mask[key] |= 1 << offset

    def add(self, key: str, open_time: int) -> Seen:
        """Check and record: returns NEW exactly once per (key, open_time)."""
        seen = self.check(key, open_time)
        if seen is Seen.NEW:
            self.mark(key, open_time)
        return seen

    def newest(self, key: str) -> int | None:
        return self._newest.get(key)

    def forget(self, key: str) -> None:
        self._newest.pop(key, None)
        self._mask.pop(key, None)

    def __len__(self) -> int:
        return len(self._newest)
