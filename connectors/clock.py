"""Clock skew per venue: local receive time minus exchange event time.

The exchange stamps each frame (event time ``E`` on Binance); we stamp its
arrival. Their difference is network latency plus clock skew; its minimum over
a sliding window is the best estimate of pure skew (the least-delayed frame),
its median the typical lag. Both are exposed in the connector's stats.
"""

from __future__ import annotations

import time
from collections import deque


def now_ms() -> int:
    """Wall-clock UTC milliseconds."""
    return time.time_ns() // 1_000_000


class ClockSkew:
    """Sliding window of ``received_at - event_time`` samples (ms)."""

    def __init__(self, window: int = 1024) -> None:
        self._samples: deque[int] = deque(maxlen=window)
        self.count = 0

    def observe(self, event_time: int, received_at: int) -> None:
        self._samples.append(received_at - event_time)
        self.count += 1

    @property
    def min_ms(self) -> int | None:
        return min(self._samples) if self._samples else None

    @property
    def median_ms(self) -> float | None:
        if not self._samples:
            return None
        s = sorted(self._samples)
        mid = len(s) // 2
        return float(s[mid]) if len(s) % 2 else (s[mid - 1] + s[mid]) / 2

    def snapshot(self) -> dict[str, float | int | None]:
        return {"samples": self.count, "min_ms": self.min_ms, "median_ms": self.median_ms}
