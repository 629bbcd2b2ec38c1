"""Per-signal dicts of a batch run, built from columns.

A batch path computes each feature for all its hits at once (numpy, then
``tolist()`` for Python floats, ints and bools); what is left per signal is putting
one value of each column into a dict. :func:`dict_builder` makes that one
dict display with constant keys, the cheapest way CPython builds a dict, so
``map(dict_builder(KEYS), *columns)`` costs about half of
``dict(zip(KEYS, row)) for row in zip(*columns)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def dict_builder(keys: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """``f(v0, v1, ...) -> {keys[0]: v0, keys[1]: v1, ...}``: one positional value
    per key, in order (the function is generated once, as ``namedtuple`` does)."""
    if not keys or not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
        raise ValueError(f"dict_builder needs distinct string keys, got {keys!r}")
    args = ", ".join(f"_{i}" for i in range(len(keys)))
    body = ", ".join(f"{k!r}: _{i}" for i, k in enumerate(keys))
    build: Callable[..., dict[str, Any]] = eval(f"lambda {args}: {{{body}}}", {})  # keys are repr()-ed literals
    return build
