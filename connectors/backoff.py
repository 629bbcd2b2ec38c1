"""Jittered exponential backoff for reconnects and REST retries.

"Full jitter" (AWS architecture blog): the n-th delay is drawn uniformly from
``[0, min(cap, base * 2**n)]`` with a floor, so a fleet of connections that
dropped together does not reconnect in lock-step.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays for successive attempts; :meth:`reset` after a success."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, floor_s: float = 0.05,
                 rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s < base_s or floor_s < 0:
            raise ValueError(f"backoff needs 0 < base ({base_s}) <= cap ({cap_s}) and floor >= 0 ({floor_s})")
        self.base_s = base_s
        self.cap_s = cap_s
        self.floor_s = floor_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Delay before the next attempt (seconds); grows the attempt counter."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return max(self.floor_s, self._rng.uniform(0.0, ceiling))

    def reset(self) -> None:
        self.attempt = 0
