"""Fixtures for connector tests: fake exchanges are factories (start, yield, stop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.connectors.fakes.binance import FakeBinance
from tests.connectors.fakes.exchange import FakeExchange


@pytest.fixture
async def fakes() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """``await fakes(FakeOkx, "SWAP", idle_timeout_s=1.0)`` -> a started fake exchange, stopped after the test."""
    started: list[FakeExchange] = []

    async def make(cls: type[FakeExchange], *args: Any, **kw: Any) -> Any:
        fake = cls(*args, **kw)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()


@pytest.fixture
def fake_binance(fakes: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[FakeBinance]]:
    """``await fake_binance("usdm")`` -> a started FakeBinance, stopped after the test."""

    async def make(market: str = "spot", **kw: Any) -> FakeBinance:
        return await fakes(FakeBinance, market, **kw)

    return make
