"""Input coercion shared by the vectorized functions."""

from __future__ import annotations

from typing import Any

import numpy as np


def f64(name: str, **arrays: Any) -> list[np.ndarray]:
    """The given inputs as contiguous float64 arrays of one common length."""
    out = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays.values()]
    for key, a in zip(arrays, out, strict=True):
        if a.ndim != 1:
            raise ValueError(f"indicator {name}: input {key!r} must be 1-D, got shape {a.shape}")
    lengths = {len(a) for a in out}
    if len(lengths) > 1:
        shapes = {k: len(a) for k, a in zip(arrays, out, strict=True)}
        raise ValueError(f"indicator {name}: inputs differ in length: {shapes}")
    return out


def empty(n: int) -> np.ndarray:
    return np.empty(n, dtype=np.float64)
