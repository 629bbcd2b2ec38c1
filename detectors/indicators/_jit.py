"""Optional JIT for the vectorized kernels.

The kernels are plain Python loops over float64 arrays written in the exact scalar
arithmetic the incremental classes use, so both forms give bit-identical results.
When numba is installed they are compiled (no ``fastmath``: IEEE semantics, no
fused multiply-add, so the compiled loop rounds exactly as CPython does); without
it they run as Python, correct but slow. ``SCANFLOW_NO_JIT=1`` forces the Python
path (used by the tests to check both agree).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

try:  # numba is an optional speed-up, never required for correctness
    if os.environ.get("SCANFLOW_NO_JIT"):
        raise ImportError("disabled by SCANFLOW_NO_JIT")
    import numba

    JIT_ENABLED = True
except ImportError:  # pragma: no cover - exercised with SCANFLOW_NO_JIT=1
    numba = None  # type: ignore[assignment]
    JIT_ENABLED = False


def kernel(fn: F) -> F:
    """Compile ``fn`` with numba (cached on disk) when available."""
    if numba is None:
        return fn
    return numba.njit(cache=True, nogil=True, fastmath=False)(fn)  # type: ignore[return-value]
