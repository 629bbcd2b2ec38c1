"""Building a batch run's signals in rounds of a few thousand hits.

A column-wise signal builder makes, besides the signals it keeps, temporary
columns and rows for every hit it handles at once. Handled all at once for a
long series, those temporaries take tens of megabytes of fresh memory, and on a
virtual machine touching fresh pages costs about as much as building the
signals. In rounds, the memory one round frees is reused by the next, so a run
touches little more than what its signals keep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: hits per round: large enough that the per-round numpy calls are noise, small
#: enough that a round's temporaries stay well under a megabyte
ROUND = 2048


def in_rounds(count: int, build: Callable[[int, int], list[T]]) -> list[T]:
    """``build(start, stop)`` for consecutive ranges of at most :data:`ROUND` of
    ``count`` hits, concatenated in order."""
    if count <= ROUND:
        return build(0, count) if count else []
    out: list[T] = []
    for start in range(0, count, ROUND):
        out += build(start, min(start + ROUND, count))
    return out
