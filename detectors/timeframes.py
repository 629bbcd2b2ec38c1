"""Timeframes: names, lengths in milliseconds and UTC bucket alignment.

Every timeframe is aligned to UTC. Intraday timeframes and ``1d`` are aligned to
the Unix epoch (a 4h bar opens at 00:00, 04:00, ... UTC). Multi-day timeframes
``2d``, ``3d`` and ``4d`` are aligned to the epoch as well (1970-01-01 00:00 UTC),
which is what Binance does for ``3d``. ``1w`` opens on Monday 00:00 UTC
(the epoch was a Thursday, so the weekly anchor is 1970-01-05).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

TIMEFRAME_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "2d": 2 * DAY_MS,
    "3d": 3 * DAY_MS,
    "4d": 4 * DAY_MS,
    "1w": 7 * DAY_MS,
}

#: Anchor (ms since epoch) of each timeframe's bucket grid.
TIMEFRAME_ANCHOR_MS: dict[str, int] = {tf: 0 for tf in TIMEFRAME_MS} | {"1w": 4 * DAY_MS}

TIMEFRAMES: tuple[str, ...] = tuple(TIMEFRAME_MS)


class UnknownTimeframe(ValueError):
    """A timeframe name scanflow does not know."""

    def __init__(self, tf: str) -> None:
        super().__init__(f"unknown timeframe {tf!r}; known: {', '.join(TIMEFRAMES)}")
        self.tf = tf


def tf_ms(tf: str) -> int:
    """Length of timeframe ``tf`` in milliseconds."""
    try:
        return TIMEFRAME_MS[tf]
    except KeyError:
        raise UnknownTimeframe(tf) from None


def bucket_start(ts_ms: int, tf: str) -> int:
    """Open time of the ``tf`` bucket that contains ``ts_ms``."""
    length = tf_ms(tf)
    anchor = TIMEFRAME_ANCHOR_MS[tf]
    return ts_ms - ((ts_ms - anchor) % length)


def is_aligned(open_time: int, tf: str) -> bool:
    """True when ``open_time`` is the start of a ``tf`` bucket."""
    return bucket_start(open_time, tf) == open_time


def close_time(open_time: int, tf: str) -> int:
    """Close time of a bar, exchange style: the last millisecond inside the bar."""
    return open_time + tf_ms(tf) - 1


def infer_timeframe(step_ms: int) -> str:
    """Name of the timeframe whose length is ``step_ms``; raises when none matches."""
    for name, length in TIMEFRAME_MS.items():
        if length == step_ms:
            return name
    raise UnknownTimeframe(f"{step_ms}ms")


def infer_tf(open_times: Sequence[int] | np.ndarray) -> str:
    """The timeframe of a series of bar open times (ms, ascending): the most
    frequent step between consecutive bars (gaps and duplicates do not sway it).
    A series of fewer than two distinct bars has no step: ``"1m"``. A step that
    is no known timeframe raises :class:`ValueError` saying what to pass instead."""
    t = np.asarray(open_times, dtype=np.int64)
    steps = np.diff(t)
    steps = steps[steps > 0]
    if not len(steps):
        return "1m"
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])  # ties: the shortest step
    for tf, length in TIMEFRAME_MS.items():
        if length == step:
            return tf
    raise ValueError(
        f"cannot infer the timeframe: the bars are mostly {step:,} ms ({step / MINUTE_MS:g} min) apart, "
        f"which is no known timeframe ({', '.join(TIMEFRAMES)}); pass tf=... explicitly "
        "(open_time must be in milliseconds)")
