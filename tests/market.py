"""Where the shared real market data lives (read in place, never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_market_dir() -> Path:
    env = os.environ.get("SCANFLOW_SHARED_MARKET")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market"


def market_file(rel: str) -> Path:
    p = shared_market_dir() / rel
    if not p.is_file():
        pytest.fail(f"shared market data file missing: {p} (set SCANFLOW_SHARED_MARKET)")
    return p
