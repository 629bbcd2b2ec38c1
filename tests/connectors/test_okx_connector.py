"""The connector against a fake OKX v5 on loopback, spot and swap: candles on
``/ws/v5/business`` and the rest on ``/ws/v5/public``, each sharded on its own
connections; a disconnect mid-replay ends with every candle exactly once and
in order; malformed frames are dead-lettered while the stream goes on; control
changes take effect on the live connections; the limits hold (3 connections
per second, 50 args per request, streams per connection, message rate); the
text ping keeps a quiet connection open; ccxt's REST pages past OKX's 300 rows
and ranks swaps by base volume."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest

from connectors.base import (
    CcxtRest,
    Connector,
    ConnectorOptions,
    MemoryPublisher,
    VenueConfig,
    VenueLimits,
)
from connectors.base.connector import ShardsPerUrl
from connectors.bybit import BybitLinearVenue
from connectors.control import SubscriptionFollower, subscription_record
from connectors.okx import OkxSpotVenue, OkxSwapVenue
from connectors.sharding import ShardPlan
from connectors.universe import UniverseRules, load_universe
from streams import topics
from streams.records import Candle, DeadLetter, FundingRate, OpenInterest, Quote, Tick
from tests.connectors.fakes.binance import load_jesse_candles
from tests.connectors.fakes.exchange import CandleRow
from tests.connectors.fakes.okx import BUSINESS_PATH, PUBLIC_PATH, FakeOkx, load_lean_minute_bars
from tests.market import market_file

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = {"SPOT": OkxSpotVenue, "SWAP": OkxSwapVenue}


@pytest.fixture
async def fake_okx() -> AsyncIterator[Callable[..., Any]]:
    """``await fake_okx("SWAP")`` -> a started FakeOkx, stopped after the test."""
    started: list[FakeOkx] = []

    async def make(inst_type: str = "SPOT", **kw: Any) -> FakeOkx:
        fake = FakeOkx(inst_type, **kw)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()


def real_candles(n: int) -> dict[str, list[CandleRow]]:
    """Real BTC and SOL 1m candles (jesse, MIT), SOL rebased onto BTC's minutes; keyed by base."""
    btc = load_jesse_candles(market_file("jesse/test_candles_indicators__test_candles_btc.csv"), n)
    sol = load_jesse_candles(market_file("jesse/test_candles_indicators__test_candles_sol.csv"), n)
    shift = btc[0].open_time - sol[0].open_time
    return {"BTC": btc, "SOL": [dataclasses.replace(r, open_time=r.open_time + shift) for r in sol]}


def fast_options(**kw: Any) -> ConnectorOptions:
    base = dict(backoff_base_s=0.05, backoff_cap_s=0.2, audit_interval_s=None, backfill_retry_base_s=0.05,
                stale_after_s=5.0)
    return ConnectorOptions(**(base | kw))


def venue_for(fake: FakeOkx, cls: type | None = None) -> Any:
    cls = cls or VENUES[fake.inst_type]
    return cls(VenueConfig(fake.ws_url, fake.rest_url, channels=cls().config.channels,
                           extra_ws_urls={"business": fake.business_ws_url}))


async def start_connector(fake: FakeOkx, symbols: list[str], venue_cls: type | None = None,
                          **opts: Any) -> tuple[Connector, MemoryPublisher]:
    venue = venue_for(fake, venue_cls)
    rest = CcxtRest(venue)
    await rest.load_markets()
    pub = MemoryPublisher()
    conn = Connector(venue, pub, rest, symbols, options=fast_options(**opts), clock=fake.now_ms)
    await conn.start()
    wanted = [s for sym in symbols for s in venue.streams_for(sym)]
    await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted))
    return conn, pub


async def stop_connector(conn: Connector) -> None:
    await conn.stop()
    await conn.rest.close()


def candles_of(pub: MemoryPublisher, symbol: str) -> list[Candle]:
    return [c for c in pub.decoded(topics.CANDLES_1M, Candle) if c.symbol == symbol]


async def play(fake: FakeOkx, series: dict[str, list[CandleRow]], minutes: range, pause: float = 0.005) -> None:
    for i in minutes:
        for base, rows in series.items():
            await fake.play_minute(fake.native(base, "USDT"), rows[i])
        await asyncio.sleep(pause)


def list_all(fake: FakeOkx, series: dict[str, list[CandleRow]]) -> None:
    for base in series:
        fake.list_symbol(base, "USDT", ct_val=0.01 if base == "BTC" else 1.0)


async def test_markets_paged_candles_and_volume_ranking_through_ccxt(fake_okx: Any) -> None:
    """ccxt's okx, pointed at the fake: only our instrument type, contract values
    learnt; 1,000 candles in one call paged by 300 (OKX's cap); swaps ranked by
    base volume x price, not by contract counts."""
    rows = load_lean_minute_bars(market_file("lean/Data/crypto/binance/minute/btcbusd/20221213_trade.zip"))
    for inst_type, cls in VENUES.items():
        fake: FakeOkx = await fake_okx(inst_type)
        # BTC: 3e8 USDT a day in few 0.01 BTC contracts; DOGE: 2e8 in many 1000 DOGE contracts; XRP: 1e8
        fake.list_symbol("BTC", "USDT", 3e8, ct_val=0.01)
        fake.list_symbol("DOGE", "USDT", 2e8, ct_val=1000.0)
        fake.list_symbol("XRP", "USDT", 1e8, ct_val=100.0)
        btc = fake.native("BTC", "USDT")
        fake.add_candles(btc, rows)
        fake.set_now(rows[-1].close_time + 1)
        venue = venue_for(fake, cls)
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


@pytest.mark.parametrize("inst_type", ["SPOT", "SWAP"])
async def test_disconnect_mid_replay_loses_and_duplicates_nothing(fake_okx: Any, inst_type: str) -> None:
    n = 40
    series = real_candles(n)
    fake: FakeOkx = await fake_okx(inst_type)
    list_all(fake, series)
    fake.set_now(series["BTC"][0].open_time)
    conn, pub = await start_connector(fake, ["BTC/USDT", "SOL/USDT"])
    try:
        # candles on a business connection, every other channel on a public one
        assert sorted(c.path for c in fake.clients) == [BUSINESS_PATH, PUBLIC_PATH]
        for client in fake.clients:
            assert all(s.startswith("candle1m:") == (client.path == BUSINESS_PATH) for s in client.streams)
        await play(fake, series, range(0, 15))
        await pub.wait_for(lambda p: len(p.records[topics.CANDLES_1M]) >= 30)
        await fake.drop_all(refuse=True)  # OKX goes away and refuses reconnects for 10 minutes
        await play(fake, series, range(15, 25))
        fake.accept()
        await play(fake, series, range(25, n), pause=0.02)

        def complete(p: MemoryPublisher) -> bool:
            return all(len(candles_of(p, s)) >= n for s in ("BTC/USDT", "SOL/USDT"))
        await pub.wait_for(complete, timeout=20)
        await asyncio.sleep(0.2)  # anything late would show up as a duplicate now
    finally:
        await stop_connector(conn)

    for base, symbol in (("BTC", "BTC/USDT"), ("SOL", "SOL/USDT")):
        got = candles_of(pub, symbol)
        rows = series[base]
        assert [c.open_time for c in got] == [r.open_time for r in rows], f"{symbol}: missing, duplicate or out of order"
        for c, r in zip(got, rows, strict=True):
            assert (c.open, c.high, c.low, c.close) == (r.open, r.high, r.low, r.close), f"{symbol} {c.open_time}"
            assert c.volume == pytest.approx(r.volume)
        assert {c.provenance for c in got} == {"ws_final", "rest_backfill"}
    assert conn.stats.reconnects >= 2  # both connections
    assert fake.connections_refused >= 1
    assert conn.stats.backfilled >= 2 * 10
    assert conn.stats.gaps_unfilled == 0 and not pub.records[topics.DEADLETTER]
    ticks = [t for t in pub.decoded(topics.TICKS, Tick) if t.symbol == "BTC/USDT"]
    # each trade once, in base currency (1 contract of 0.01 BTC on SWAP); none while OKX was away
    assert 0 < len({t.trade_id for t in ticks}) == len(ticks) <= n - 10
    assert {t.qty for t in ticks} == {0.01}
    quotes = [q for q in pub.decoded(topics.QUOTES, Quote) if q.symbol == "BTC/USDT"]
    assert quotes and all(q.bid <= q.ask for q in quotes) and {(q.bid_qty, q.ask_qty) for q in quotes} == (
        {(1.0, 2.0)} if inst_type == "SWAP" else {(1.5, 3.0)})
    if inst_type == "SWAP":
        funding = pub.decoded(topics.FUNDING, FundingRate)
        for symbol in ("BTC/USDT", "SOL/USDT"):
            own = [f for f in funding if f.symbol == symbol]
            # the first mark price arrives before any funding-rate push; every later record carries it
            assert own[0].funding_rate is None and len(own) >= 2 * 15  # 2 a minute before the outage
            assert all(f.mark_price > 0 and f.funding_rate == 0.0001
                       and f.next_funding_time == FakeOkx.settlement_after(f.event_time) for f in own[1:])
        ois = pub.decoded(topics.OPEN_INTEREST, OpenInterest)
        assert ois and all(o.open_interest == 59891.73 for o in ois)
    else:
        assert not pub.records[topics.FUNDING] and not pub.records[topics.OPEN_INTEREST]
    assert conn.stats.skew.count > 0


async def test_public_reconnect_backfills_no_candles_business_reconnect_does(fake_okx: Any) -> None:
    series = real_candles(6)
    fake: FakeOkx = await fake_okx("SWAP")
    list_all(fake, {"BTC": series["BTC"]})
    fake.set_now(series["BTC"][0].open_time)
    conn, pub = await start_connector(fake, ["BTC/USDT"])
    try:
        await play(fake, {"BTC": series["BTC"]}, range(0, 2))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 2)
        public = next(c for c in fake.clients if c.path == PUBLIC_PATH)
        await public.ws.close(1001, "going away")
        await fake.wait_until(lambda: conn.stats.reconnects >= 1 and len(fake.clients) == 2)
        assert conn.stats.backfill_jobs == 0  # trades and tickers are not backfilled; candles were not cut
        business = next(c for c in fake.clients if c.path == BUSINESS_PATH)
        await business.ws.close(1001, "going away")
        await fake.wait_until(lambda: conn.stats.reconnects >= 2 and len(fake.clients) == 2)
        await play(fake, {"BTC": series["BTC"]}, range(2, 6))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 6)
    finally:
        await stop_connector(conn)
    assert conn.stats.backfill_jobs == 1
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in series["BTC"]]


@pytest.mark.parametrize("inst_type", ["SPOT", "SWAP"])
async def test_gap_without_disconnect_is_backfilled_in_order(fake_okx: Any, inst_type: str) -> None:
    """OKX silently skips two closing pushes: the next close reveals the gap."""
    rows = real_candles(8)["BTC"]
    fake: FakeOkx = await fake_okx(inst_type)
    fake.list_symbol("BTC", "USDT")
    native = fake.native("BTC", "USDT")
    fake.set_now(rows[0].open_time)
    conn, pub = await start_connector(fake, ["BTC/USDT"])
    try:
        await play(fake, {"BTC": rows}, range(0, 3))
        for r in rows[3:5]:
            fake.add_candles(native, [r])
            fake.set_now(r.close_time + 1)
        await play(fake, {"BTC": rows}, range(5, 8))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 8)
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert [c.open_time for c in got] == [r.open_time for r in rows]
    assert [c.provenance for c in got] == ["ws_final"] * 3 + ["rest_backfill"] * 2 + ["ws_final"] * 3
    assert [c.volume for c in got] == pytest.approx([r.volume for r in rows])  # REST and WS agree on units
    assert conn.stats.gaps_detected == 1


@pytest.mark.parametrize("inst_type", ["SPOT", "SWAP"])
async def test_malformed_frames_go_to_deadletter_and_stream_continues(fake_okx: Any, inst_type: str) -> None:
    rows = real_candles(3)["BTC"]
    fake: FakeOkx = await fake_okx(inst_type)
    fake.list_symbol("BTC", "USDT")
    native = fake.native("BTC", "USDT")
    conn, pub = await start_connector(fake, ["BTC/USDT"])
    truncated = '{"arg":{"channel":"candle1m","instId":"' + native + '"},"data":[["1'
    bad_price = fake.wrap(f"candle1m:{native}", fake.candle_payload(native, rows[0], confirm=True))
    bad_price = bad_price.replace(f'"{fake.candle_row(native, rows[0], confirm=True)[1]}"', '"NaN?"', 1)
    bad_trade = fake.wrap(f"trades:{native}", fake.trade_payload(native, 1.0, 0.01, 1, "buy")).replace('"buy"', '"b"')
    assert "NaN?" in bad_price
    try:
        await play(fake, {"BTC": rows}, range(0, 1))
        await fake.publish(f"candle1m:{native}", truncated)
        await fake.publish(f"candle1m:{native}", bad_price)
        await fake.publish(f"trades:{native}", bad_trade)
        await play(fake, {"BTC": rows}, range(1, 3))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 3 and len(p.records[topics.DEADLETTER]) >= 3)
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert sorted(d.reason for d in dls) == ["bad_number", "bad_side", "malformed_json"]
    by_reason = {d.reason: d for d in dls}
    assert by_reason["malformed_json"].raw == truncated and "NaN?" in by_reason["bad_number"].raw
    assert all(d.source.startswith(f"connector:okx-{inst_type.lower()}") for d in dls)
    assert "BTC/USDT" in by_reason["bad_number"].detail
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows]
    assert fake.connections_accepted == 2  # both connections survived


async def test_rejected_subscription_is_dead_lettered(fake_okx: Any) -> None:
    """An instrument OKX does not list is refused with error 60018; we say so."""
    fake: FakeOkx = await fake_okx("SPOT")
    fake.list_symbol("BTC", "USDT")
    conn, pub = await start_connector(fake, ["BTC/USDT"])
    try:
        await conn.set_symbols(["BTC/USDT", "NOPE/USDT"])  # not listed by the exchange
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= 3)  # its candle, trades, tickers
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert {d.reason for d in dls} == {"subscribe_rejected"}
    assert all("60018" in d.detail and "NOPE-USDT" in d.detail for d in dls)


async def test_candle_channel_on_the_public_path_is_refused_by_the_fake(fake_okx: Any) -> None:
    """The fake enforces OKX's split of endpoints, so the per-URL sharding above means something."""
    fake: FakeOkx = await fake_okx("SPOT")
    fake.list_symbol("BTC", "USDT")

    class _OneUrl(OkxSpotVenue):
        def url_key(self, stream: str) -> str:
            return ""

    venue = venue_for(fake, _OneUrl)
    rest = CcxtRest(venue)
    await rest.load_markets()
    pub = MemoryPublisher()
    conn = Connector(venue, pub, rest, ["BTC/USDT"], options=fast_options(), clock=fake.now_ms)
    try:
        await conn.start()
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= 1)
    finally:
        await stop_connector(conn)
    (dl,) = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert dl.reason == "subscribe_rejected" and "Wrong URL or channel:candle1m" in dl.detail


@pytest.mark.parametrize("inst_type", ["SPOT", "SWAP"])
async def test_control_topic_change_takes_effect_without_restart(fake_okx: Any, inst_type: str) -> None:
    series = real_candles(4)
    fake: FakeOkx = await fake_okx(inst_type)
    list_all(fake, series)
    market = "spot" if inst_type == "SPOT" else "linear"
    conn, pub = await start_connector(fake, ["BTC/USDT"])
    follower = SubscriptionFollower(conn)
    venue = conn.venue
    try:
        await play(fake, series, range(0, 1))
        assert await follower.apply(*subscription_record("okx", market, ["BTC/USDT", "SOL/USDT"]))
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for("SOL/USDT")))
        await play(fake, series, range(1, 2))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 1)
        assert await follower.apply(*subscription_record("okx", market, ["SOL/USDT"]))
        await fake.wait_until(lambda: not any(fake.subscribers(s) for s in venue.streams_for("BTC/USDT")))
        await play(fake, series, range(2, 4))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 3)
        other = "linear" if market == "spot" else "spot"
        assert not await follower.apply(*subscription_record("okx", other, ["ETH/USDT"]))
        assert not await follower.apply(f"okx:{market}".encode(), b'{"symbols": 5}')
    finally:
        await stop_connector(conn)
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in series["BTC"][:2]]
    assert [c.open_time for c in candles_of(pub, "SOL/USDT")] == [r.open_time for r in series["SOL"][1:4]]
    assert fake.connections_accepted == 2  # the same two connections throughout
    assert [d.reason for d in pub.decoded(topics.DEADLETTER, DeadLetter)] == ["malformed_subscription"]


class _SmallSpot(OkxSpotVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(OkxSpotVenue.limits, streams_per_connection=4,
                                                        streams_per_subscribe=3, client_msgs_per_second=3.0)


class _SmallSwap(OkxSwapVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(OkxSwapVenue.limits, streams_per_connection=10,
                                                        streams_per_subscribe=4, client_msgs_per_second=3.0)


@pytest.mark.parametrize(("inst_type", "cls", "per_conn", "conns"), [
    ("SPOT", _SmallSpot, 4, 3 + 5),   # business: 10 candles / 4; public: 2 streams a symbol, 2 symbols a connection
    ("SWAP", _SmallSwap, 10, 1 + 5),  # business: 10 candles; public: 5 streams a symbol, 2 symbols a connection
])
async def test_sharder_respects_okx_limits(fake_okx: Any, inst_type: str, cls: type, per_conn: int,
                                           conns: int) -> None:
    """Streams per connection, args per request, 3 messages/s per connection and
    OKX's 3 new connections per second per IP (the fake refuses a fourth)."""
    fake: FakeOkx = await fake_okx(inst_type, max_streams_per_connection=per_conn, max_msgs_per_second=4.0)
    bases = [f"C{i:02d}" for i in range(10)]
    for b in bases:
        fake.list_symbol(b, "USDT")
    symbols = [f"{b}/USDT" for b in bases]
    conn, _ = await start_connector(fake, symbols[:3], venue_cls=cls)
    try:
        await conn.set_symbols(symbols)
        wanted = [s for sym in symbols for s in conn.venue.streams_for(sym)]
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted), timeout=30)
        per_stream = [len(fake.subscribers(s)) for s in wanted]
    finally:
        await stop_connector(conn)
    assert fake.violations == [] and fake.rejected_requests == [] and fake.connections_refused == 0
    live = list(fake.all_clients)
    assert len(live) == conns and all(n == 1 for n in per_stream)
    assert max(c.max_streams_seen for c in live) <= per_conn
    for client in live:
        assert all(s.startswith("candle1m:") == (client.path == BUSINESS_PATH) for s in client.streams)
        requests = [json.loads(m) for _, m in client.received if m != "ping"]
        assert all(len(r["args"]) <= cls.limits.streams_per_subscribe for r in requests)
        times = sorted(t for t, _ in client.received)
        assert all(b - a >= 0.9 / cls.limits.client_msgs_per_second for a, b in zip(times, times[1:], strict=False))


async def test_text_ping_keeps_a_quiet_connection_open(fake_okx: Any) -> None:
    """OKX closes a connection with nothing pushed for 30 s (1 s here); the text
    ping every 20 s (0.2 s here) is answered with pong and keeps it open."""
    fake: FakeOkx = await fake_okx("SPOT", idle_timeout_s=1.0)
    fake.list_symbol("BTC", "USDT")

    class _FastPing(OkxSpotVenue):
        app_ping_interval_s: ClassVar[float | None] = 0.2

    class _NoPing(OkxSpotVenue):
        app_ping_interval_s: ClassVar[float | None] = None

    conn, pub = await start_connector(fake, ["BTC/USDT"], venue_cls=_FastPing)
    try:
        await asyncio.sleep(2.5)  # no market data at all
    finally:
        await stop_connector(conn)
    assert fake.idle_closes == 0 and fake.connections_accepted == 2 and fake.pings >= 10
    assert not pub.records[topics.DEADLETTER]  # pongs are not unexpected frames

    conn, pub = await start_connector(fake, ["BTC/USDT"], venue_cls=_NoPing)
    try:
        await fake.wait_until(lambda: fake.idle_closes >= 2, timeout=5)  # without pings OKX hangs up
        await fake.wait_until(lambda: conn.stats.reconnects >= 2, timeout=5)
    finally:
        await stop_connector(conn)


async def test_audit_republishes_a_diverging_candle_as_correction(fake_okx: Any) -> None:
    rows = real_candles(5)["BTC"]
    fake: FakeOkx = await fake_okx("SWAP")
    fake.list_symbol("BTC", "USDT")
    native = fake.native("BTC", "USDT")
    fake.set_now(rows[0].open_time)
    conn, pub = await start_connector(fake, ["BTC/USDT"])
    try:
        await play(fake, {"BTC": rows}, range(0, 5))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 5)
        assert await conn.audit_once() == 0  # websocket (volCcy) and REST agree, volumes included
        fixed = dataclasses.replace(rows[3], close=rows[3].close + 1.0, high=max(rows[3].high, rows[3].close + 1.0))
        fake.add_candles(native, [fixed])
        assert await conn.audit_once() == 1
        assert await conn.audit_once() == 0
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert len(got) == 6
    corr = got[-1]
    assert (corr.provenance, corr.open_time, corr.close) == ("correction", rows[3].open_time, fixed.close)


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
