"""Fixtures for connector tests: fake exchanges are factories (start, yield, stop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.connectors.fakes.binance import FakeBinance


@pytest.fixture
async def fake_binance() -> AsyncIterator[Callable[..., Any]]:
    """``await fake_binance("usdm")`` -> a started FakeBinance, stopped after the test."""
    started: list[FakeBinance] = []

    async def make(market: str = "spot", **kw: Any) -> FakeBinance:
        fake = FakeBinance(market, **kw)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()
