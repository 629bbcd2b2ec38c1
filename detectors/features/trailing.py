"""Trailing means of volume and spread, computed once per batch run.

``vsa``, ``vsa_confluence``, ``volume_surge`` and ``weak_uptrend`` all read the
mean volume (and three of them the mean spread ``high - low``) of the ``window``
bars before each bar, summed oldest first from ``0.0`` and divided by the window
(the operations of :func:`detectors.features.window.trailing_mean` and of their
streaming ``seq_sum(deque) / window``, in one compiled pass). In a :class:`detectors.base.DetectorSet`
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
from detectors.indicators._jit import kernel

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
    ``i - window .. i - 1`` (NaN before), bit for bit
    :func:`~detectors.features.window.trailing_mean`; memoized in ``bars.shared``
    for the run."""
    key = ("trailing_mean", source, window)
    got = bars.shared.get(key)
    if got is None:
        if source not in SOURCES:
            raise ValueError(f"trailing mean of {source!r}: not one of {SOURCES}")
        if window < 1:
            raise ValueError(f"trailing mean over {window} bars: the window must be >= 1")
        got = np.empty(len(bars))
        if source == "volume":
            _trailing_mean(bars.volume, bars.volume, False, window, got)
        else:
            _trailing_mean(bars.high, bars.low, True, window, got)
        bars.shared[key] = got
    return got


@kernel
def _trailing_mean(x: np.ndarray, y: np.ndarray, spread: bool, w: int, out: np.ndarray) -> None:
    """``out[i]`` = the sum from 0.0, oldest first, of ``x[j]`` (``x[j] - y[j]`` with
    ``spread``) over ``j = i - w .. i - 1``, divided by ``w``; NaN for ``i < w``. One
    output array and no temporaries (a run touches little fresh memory); four
    windows side by side, since each sum is a chain of dependent additions."""
    n = len(x)
    for i in range(min(w, n)):
        out[i] = np.nan
    i = w
    while i + 4 <= n:
        s0 = s1 = s2 = s3 = 0.0
        for j in range(i - w, i):
            if spread:
                s0 += x[j] - y[j]
                s1 += x[j + 1] - y[j + 1]
                s2 += x[j + 2] - y[j + 2]
                s3 += x[j + 3] - y[j + 3]
            else:
                s0 += x[j]
                s1 += x[j + 1]
                s2 += x[j + 2]
                s3 += x[j + 3]
        out[i] = s0 / w
        out[i + 1] = s1 / w
        out[i + 2] = s2 / w
        out[i + 3] = s3 / w
        i += 4
    for r in range(i, n):  # the last windows, one at a time
        total = 0.0
        for j in range(r - w, r):
            total += x[j] - y[j] if spread else x[j]
        out[r] = total / w
