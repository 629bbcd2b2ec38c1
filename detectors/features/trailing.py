"""Trailing means of volume and spread, computed once per batch run.

``vsa``, ``vsa_confluence``, ``volume_surge`` and ``weak_uptrend`` all read the
mean volume (and three of them the mean spread ``high - low``) of the ``window``
bars before each bar, summed oldest first from ``0.0`` and divided by the window
(:func:`detectors.features.window.trailing_mean`, the same operations as their
streaming ``seq_sum(deque) / window``). In a :class:`detectors.base.DetectorSet`
batch run every member gets the same :class:`~detectors.base.BarArrays`, so the
first member computes each mean once and stores it in ``bars.shared``; the
others read it. Alone, a detector computes it for itself. The arrays are NaN
before ``window`` bars, as ``trailing_mean`` gives them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from functools import reduce
from operator import add

import numpy as np

from detectors.base import BarArrays
from detectors.features.window import trailing_mean

#: what a mean can be taken of
SOURCES = ("volume", "spread")

#: ``sequential_sum(values, 0.0)``: :func:`detectors.features.window.seq_sum`
#: without its Python frame, for streaming steps that sum a window on every bar. On
#: CPython <= 3.11 it is the builtin ``sum`` itself (floats added left to right in a
#: C double); 3.12 made ``sum`` compensated, so there it is a left fold.
sequential_sum: Callable[[Iterable[float], float], float]
if sys.version_info < (3, 12):
    sequential_sum = sum
else:  # pragma: no cover - exercised on 3.12+
    def sequential_sum(values: Iterable[float], start: float) -> float:
        return float(reduce(add, values, start))


def shared_trailing_mean(bars: BarArrays, source: str, window: int) -> np.ndarray:
    """``out[i]`` = mean of ``source`` ("volume" or "spread") over bars
    ``i - window .. i - 1``; memoized in ``bars.shared`` for the run."""
    key = ("trailing_mean", source, window)
    got = bars.shared.get(key)
    if got is None:
        if source == "volume":
            values = bars.volume
        elif source == "spread":
            values = bars.high - bars.low
        else:
            raise ValueError(f"trailing mean of {source!r}: not one of {SOURCES}")
        got = bars.shared[key] = trailing_mean(values, window)
    return got
