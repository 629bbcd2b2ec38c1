"""Bybit v5 against the fake, beyond the venue contract (test_venue_contract.py):
ccxt's bybit client loads only our category and pages klines oldest first; the
fake refuses a spot request over Bybit's 10 args (so the contract's limits test
means something); the JSON ping is answered and its pong consumed."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

import pytest

from connectors.base import CcxtRest, VenueConfig, VenueLimits
from connectors.bybit import BybitLinearVenue, BybitSpotVenue
from streams import topics
from streams.records import DeadLetter
from tests.connectors.fakes.adapter import adapter_for, jesse_candles, stop_connector
from tests.connectors.fakes.bybit import FakeBybit

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = {"spot": BybitSpotVenue, "linear": BybitLinearVenue}


async def test_markets_and_rest_candles_through_ccxt(fakes: Any) -> None:
    """ccxt's bybit client, pointed at the fake, loads only our category and pages klines oldest first."""
    rows = jesse_candles(5)["BTC"]
    for category, cls in VENUES.items():
        fake: FakeBybit = await fakes(FakeBybit, category)
        fake.list_symbol("BTC", "USDT")
        fake.add_candles("BTCUSDT", rows)
        fake.set_now(rows[-1].close_time + 1)
        venue = cls(VenueConfig(fake.ws_url, fake.rest_url))
        rest = CcxtRest(venue)
        try:
            markets = await rest.load_markets()
            got = await rest.fetch_ohlcv("BTC/USDT", rows[1].open_time, 10)
        finally:
            await rest.close()
        assert list(markets) == ["BTC/USDT"] and venue.native_id("BTC/USDT") == "BTCUSDT"
        # closed candles oldest first, then (like the real endpoint) the one in progress
        assert [r[0] for r in got[:-1]] == [r.open_time for r in rows[1:]]
        assert got[-1][0] == rows[-1].close_time + 1 and got[-1][5] == 0
        assert got[0][1:5] == [rows[1].open, rows[1].high, rows[1].low, rows[1].close]
        assert all(q.get("category") == category for p, q in fake.rest_requests if p.startswith("/v5/market/"))


async def test_spot_request_over_ten_args_is_refused_by_the_fake(fakes: Any) -> None:
    """The fake enforces Bybit spot's 10-args rule, so the contract's limits test means something."""
    fake: FakeBybit = await fakes(FakeBybit, "spot")
    for i in range(11):
        fake.list_symbol(f"C{i:02d}", "USDT")

    class _Greedy(BybitSpotVenue):
        limits: ClassVar[VenueLimits] = dataclasses.replace(BybitSpotVenue.limits, streams_per_subscribe=33)

    conn, pub = await adapter_for("bybit-spot").start_connector(fake, [f"C{i:02d}/USDT" for i in range(11)],
                                                                venue_cls=_Greedy, subscribed=False)
    try:
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= 1)
    finally:
        await stop_connector(conn)
    (dl,) = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert dl.reason == "subscribe_rejected" and "args size" in dl.detail


async def test_app_ping_is_answered_and_consumed(fakes: Any) -> None:
    fake: FakeBybit = await fakes(FakeBybit, "linear")
    fake.list_symbol("BTC", "USDT")

    class _FastPing(BybitLinearVenue):
        app_ping_interval_s: ClassVar[float | None] = 0.1

    conn, pub = await adapter_for("bybit-linear").start_connector(fake, ["BTC/USDT"], venue_cls=_FastPing)
    try:
        await fake.wait_until(lambda: fake.pings >= 3)
        await asyncio.sleep(0.05)
    finally:
        await stop_connector(conn)
    assert not pub.records[topics.DEADLETTER]  # pongs are not "unexpected frames"
