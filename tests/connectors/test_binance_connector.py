"""The connector framework against a fake Binance, beyond the venue contract
(test_venue_contract.py): a rotated connection is replaced without a gap, and
a silent stream is reconnected.

``real_candles``, ``fast_options`` and ``play`` are imported from here by the
broker and CLI tests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.base import Connector, MemoryPublisher
from tests.connectors.fakes.adapter import (
    adapter_for,
    candles_of,
    fast_options,
    jesse_candles,
    play,
    stop_connector,
)
from tests.connectors.fakes.binance import FakeBinance
from tests.connectors.fakes.exchange import CandleRow

__all__ = ["fast_options", "play", "real_candles"]

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

SPOT = adapter_for("binance-spot")


def real_candles(n: int) -> dict[str, list[CandleRow]]:
    """Real BTC and SOL 1m candles (jesse, MIT), SOL rebased onto BTC's minutes; keyed BTCUSDT, SOLUSDT."""
    return {f"{base}USDT": rows for base, rows in jesse_candles(n).items()}


async def start_spot(fake: FakeBinance, **opts: Any) -> tuple[Connector, MemoryPublisher]:
    fake.list_symbol("BTC", "USDT")
    return await SPOT.start_connector(fake, ["BTC/USDT"], **opts)


async def test_rotation_replaces_connection_without_gap(fake_binance: Any) -> None:
    rows = real_candles(12)["BTCUSDT"]
    fake: FakeBinance = await fake_binance("spot")
    fake.set_now(rows[0].open_time)
    conn, pub = await start_spot(fake)
    try:
        await play(fake, {"BTCUSDT": rows}, range(0, 4))
        rotation = asyncio.create_task(conn.rotate(0))
        while not rotation.done():  # keep the market moving while the new connection comes up
            await play(fake, {"BTCUSDT": rows}, range(4, 5)) if len(candles_of(pub, "BTC/USDT")) < 5 else await asyncio.sleep(0.01)
        assert rotation.result() is True
        await play(fake, {"BTCUSDT": rows}, range(5, 12))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 12)
        await asyncio.sleep(0.1)
    finally:
        await stop_connector(conn)
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows]
    assert conn.stats.rotations == 1 and conn.stats.reconnects == 0
    assert fake.connections_accepted == 2 and len(fake.clients) == 0


async def test_stale_stream_triggers_reconnect(fake_binance: Any) -> None:
    fake: FakeBinance = await fake_binance("spot")
    conn, _ = await start_spot(fake, stale_after_s=0.4)
    try:
        await fake.wait_until(lambda: fake.connections_accepted >= 2, timeout=10)
    finally:
        await stop_connector(conn)
    stale = sum(c.stale_reconnects for c in conn.connections.values())
    assert stale >= 1
