"""OKX v5 against the fake, beyond the venue contract (test_venue_contract.py):
candles on ``/ws/v5/business`` and the rest on ``/ws/v5/public``, each
endpoint sharded on its own connections (only a business reconnect backfills
candles; the fake refuses a candle channel on the public path); the text ping
keeps a quiet connection open; ccxt's REST pages past OKX's 300 rows and ranks
swaps by base volume.

``real_candles`` is imported from here by the CLI test."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from connectors.base import CcxtRest
from connectors.base.connector import ShardsPerUrl
from connectors.bybit import BybitLinearVenue
from connectors.okx import OkxSpotVenue, OkxSwapVenue
from connectors.sharding import ShardPlan
from connectors.universe import UniverseRules, load_universe
from streams import topics
from streams.records import DeadLetter
from tests.connectors.fakes.adapter import (
    adapter_for,
    candles_of,
    jesse_candles,
    play,
    stop_connector,
)
from tests.connectors.fakes.okx import BUSINESS_PATH, PUBLIC_PATH, FakeOkx, load_lean_minute_bars
from tests.market import market_file

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

ADAPTERS = {"SPOT": adapter_for("okx-spot"), "SWAP": adapter_for("okx-swap")}
real_candles = jesse_candles  # real BTC and SOL 1m candles keyed by base


def venue_for(fake: FakeOkx, cls: type | None = None) -> Any:
    adapter = ADAPTERS[fake.inst_type]
    cls = cls or adapter.venue_cls
    return cls(adapter.venue_config(fake, cls))


async def test_markets_paged_candles_and_volume_ranking_through_ccxt(fakes: Any) -> None:
    """ccxt's okx, pointed at the fake: only our instrument type, contract values
    learnt; 1,000 candles in one call paged by 300 (OKX's cap); swaps ranked by
    base volume x price, not by contract counts."""
    rows = load_lean_minute_bars(market_file("lean/Data/crypto/binance/minute/btcbusd/20221213_trade.zip"))
    for inst_type in ADAPTERS:
        fake: FakeOkx = await fakes(FakeOkx, inst_type)
        # BTC: 3e8 USDT a day in few 0.01 BTC contracts; DOGE: 2e8 in many 1000 DOGE contracts; XRP: 1e8
        fake.list_symbol("BTC", "USDT", 3e8, ct_val=0.01)
        fake.list_symbol("DOGE", "USDT", 2e8, ct_val=1000.0)
        fake.list_symbol("XRP", "USDT", 1e8, ct_val=100.0)
        btc = fake.native("BTC", "USDT")
        fake.add_candles(btc, rows)
        fake.set_now(rows[-1].close_time + 1)
        venue = venue_for(fake)
        rest = CcxtRest(venue)
        try:
            markets = await rest.load_markets()
            got = await rest.fetch_ohlcv("BTC/USDT", rows[0].open_time, 1000)
            top = await load_universe(rest, UniverseRules(top=2))
        finally:
            await rest.close()
        assert sorted(markets) == ["BTC/USDT", "DOGE/USDT", "XRP/USDT"] and venue.native_id("BTC/USDT") == btc
        assert [r[0] for r in got] == [r.open_time for r in rows[:1000]]
        assert got[7][1:6] == [rows[7].open, rows[7].high, rows[7].low, rows[7].close, rows[7].volume]
        calls = [q for p, q in fake.rest_requests if p.endswith("candles")]
        assert len(calls) == 4 and all(int(q["limit"]) <= 300 for q in calls)
        assert all(q.get("instType") == inst_type for p, q in fake.rest_requests if "instType" in q)
        assert top == ["BTC/USDT", "DOGE/USDT"]
        if inst_type == "SWAP":
            assert venue._contract_size == {
                btc: 0.01, "DOGE-USDT-SWAP": 1000.0, "XRP-USDT-SWAP": 100.0}


async def test_public_reconnect_backfills_no_candles_business_reconnect_does(fakes: Any) -> None:
    rows = real_candles(6)["BTC"]
    fake: FakeOkx = await fakes(FakeOkx, "SWAP")
    series = {ADAPTERS["SWAP"].list_symbol(fake, "BTC"): rows}
    fake.set_now(rows[0].open_time)
    conn, pub = await ADAPTERS["SWAP"].start_connector(fake, ["BTC/USDT"])
    try:
        await play(fake, series, range(0, 2))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 2)
        public = next(c for c in fake.clients if c.path == PUBLIC_PATH)
        await public.ws.close(1001, "going away")
        await fake.wait_until(lambda: conn.stats.reconnects >= 1 and len(fake.clients) == 2)
        assert conn.stats.backfill_jobs == 0  # trades and tickers are not backfilled; candles were not cut
        business = next(c for c in fake.clients if c.path == BUSINESS_PATH)
        await business.ws.close(1001, "going away")
        await fake.wait_until(lambda: conn.stats.reconnects >= 2 and len(fake.clients) == 2)
        await play(fake, series, range(2, 6))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 6)
    finally:
        await stop_connector(conn)
    assert conn.stats.backfill_jobs == 1
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows]


async def test_candle_channel_on_the_public_path_is_refused_by_the_fake(fakes: Any) -> None:
    """The fake enforces OKX's split of endpoints, so the per-URL sharding means something."""
    fake: FakeOkx = await fakes(FakeOkx, "SPOT")
    fake.list_symbol("BTC", "USDT")

    class _OneUrl(OkxSpotVenue):
        def url_key(self, stream: str) -> str:
            return ""

    conn, pub = await ADAPTERS["SPOT"].start_connector(fake, ["BTC/USDT"], venue_cls=_OneUrl, subscribed=False)
    try:
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= 1)
    finally:
        await stop_connector(conn)
    (dl,) = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert dl.reason == "subscribe_rejected" and "Wrong URL or channel:candle1m" in dl.detail


async def test_text_ping_keeps_a_quiet_connection_open(fakes: Any) -> None:
    """OKX closes a connection with nothing pushed for 30 s (1 s here); the text
    ping every 20 s (0.2 s here) is answered with pong and keeps it open."""
    fake: FakeOkx = await fakes(FakeOkx, "SPOT", idle_timeout_s=1.0)
    fake.list_symbol("BTC", "USDT")

    class _FastPing(OkxSpotVenue):
        app_ping_interval_s: ClassVar[float | None] = 0.2

    class _NoPing(OkxSpotVenue):
        app_ping_interval_s: ClassVar[float | None] = None

    conn, pub = await ADAPTERS["SPOT"].start_connector(fake, ["BTC/USDT"], venue_cls=_FastPing)
    try:
        await asyncio.sleep(2.5)  # no market data at all
    finally:
        await stop_connector(conn)
    assert fake.idle_closes == 0 and fake.connections_accepted == 2 and fake.pings >= 10
    assert not pub.records[topics.DEADLETTER]  # pongs are not unexpected frames

    conn, pub = await ADAPTERS["SPOT"].start_connector(fake, ["BTC/USDT"], venue_cls=_NoPing)
    try:
        await fake.wait_until(lambda: fake.idle_closes >= 2, timeout=5)  # without pings OKX hangs up
        await fake.wait_until(lambda: conn.stats.reconnects >= 2, timeout=5)
    finally:
        await stop_connector(conn)


def test_shards_per_url_keeps_endpoints_apart_and_single_url_venues_unchanged() -> None:
    okx = OkxSwapVenue()
    plan = ShardsPerUrl(okx, 10)
    change = plan.update([f"S{i}/USDT" for i in range(4)])
    # business: 4 candles on one shard; public: 5 streams a symbol, 2 symbols a shard
    keys = {i: plan.url_key_of(i) for i in change.subscribe}
    assert sorted(keys.values()) == ["", "", "business"] and sorted(change.new_shards) == [0, 1, 2]
    for i, streams in change.subscribe.items():
        assert all(okx.url_key(s) == keys[i] for s in streams) and len(streams) <= 10
    assert plan.symbols == {f"S{i}/USDT" for i in range(4)} and change.added_symbols == sorted(plan.symbols)
    change = plan.update(["S0/USDT"])
    assert change.removed_symbols == ["S1/USDT", "S2/USDT", "S3/USDT"]
    assert len(change.emptied_shards) == 1 and sorted(plan.shards) == [i for i in keys if i not in change.emptied_shards]
    change = plan.update(["S0/USDT", "S9/USDT", "S8/USDT"])
    assert all(i not in keys or i not in change.new_shards for i in change.subscribe)  # no index reused
    # a single-URL venue: the same shards and indexes as a bare ShardPlan
    bybit = BybitLinearVenue()
    ours, bare = ShardsPerUrl(bybit, 8), ShardPlan(bybit.streams_for, 8)
    for wanted in ([f"X{i}/USDT" for i in range(5)], ["X1/USDT", "X4/USDT", "Y1/USDT"], []):
        a, b = ours.update(wanted), bare.update(wanted)
        assert (a.subscribe, a.unsubscribe, a.new_shards, a.emptied_shards, a.added_symbols, a.removed_symbols) == (
            b.subscribe, b.unsubscribe, b.new_shards, b.emptied_shards, b.added_symbols, b.removed_symbols)
        assert {i: s.symbols for i, s in ours.shards.items()} == {i: s.symbols for i, s in bare.shards.items()}
