"""The connector against a fake Bybit v5 on loopback, for spot and linear:
replay with a forced disconnect ends with every candle exactly once and in
order; malformed frames are dead-lettered while the stream goes on; control
changes take effect on the live connection; the sharder keeps to the limits
(10 args per spot request); the audit republishes a revised candle."""

from __future__ import annotations

import asyncio
import dataclasses
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
from connectors.bybit import BybitLinearVenue, BybitSpotVenue
from connectors.control import SubscriptionFollower, subscription_record
from streams import topics
from streams.records import Candle, DeadLetter, FundingRate, OpenInterest, Quote, Tick
from tests.connectors.fakes import shared_market_dir
from tests.connectors.fakes.binance import load_jesse_candles
from tests.connectors.fakes.bybit import FakeBybit
from tests.connectors.fakes.exchange import CandleRow

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = {"spot": BybitSpotVenue, "linear": BybitLinearVenue}
JESSE = shared_market_dir() / "jesse"


@pytest.fixture
async def fake_bybit() -> AsyncIterator[Callable[..., Any]]:
    """``await fake_bybit("linear")`` -> a started FakeBybit, stopped after the test."""
    started: list[FakeBybit] = []

    async def make(category: str = "spot", **kw: Any) -> FakeBybit:
        fake = FakeBybit(category, **kw)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()


def real_candles(n: int) -> dict[str, list[CandleRow]]:
    """Real BTC and SOL 1m candles (jesse, MIT), SOL rebased onto BTC's minutes."""
    btc = load_jesse_candles(JESSE / "test_candles_indicators__test_candles_btc.csv", n)
    sol = load_jesse_candles(JESSE / "test_candles_indicators__test_candles_sol.csv", n)
    shift = btc[0].open_time - sol[0].open_time
    sol = [dataclasses.replace(r, open_time=r.open_time + shift) for r in sol]
    return {"BTCUSDT": btc, "SOLUSDT": sol}


def fast_options(**kw: Any) -> ConnectorOptions:
    base = dict(backoff_base_s=0.05, backoff_cap_s=0.2, audit_interval_s=None, backfill_retry_base_s=0.05,
                stale_after_s=5.0)
    return ConnectorOptions(**(base | kw))


async def start_connector(fake: FakeBybit, market: str, symbols: list[str], venue_cls: type | None = None,
                          **opts: Any) -> tuple[Connector, MemoryPublisher]:
    cls = venue_cls or VENUES[market]
    venue = cls(VenueConfig(fake.ws_url, fake.rest_url, channels=cls().config.channels))
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


async def play(fake: FakeBybit, series: dict[str, list[CandleRow]], minutes: range, pause: float = 0.005) -> None:
    for i in minutes:
        for native, rows in series.items():
            await fake.play_minute(native, rows[i])
        await asyncio.sleep(pause)


async def test_markets_and_rest_candles_through_ccxt(fake_bybit: Any) -> None:
    """ccxt's bybit client, pointed at the fake, loads only our category and pages klines oldest first."""
    series = real_candles(5)
    for category, cls in VENUES.items():
        fake: FakeBybit = await fake_bybit(category)
        fake.list_symbol("BTC", "USDT")
        fake.add_candles("BTCUSDT", series["BTCUSDT"])
        fake.set_now(series["BTCUSDT"][-1].close_time + 1)
        venue = cls(VenueConfig(fake.ws_url, fake.rest_url))
        rest = CcxtRest(venue)
        try:
            markets = await rest.load_markets()
            rows = await rest.fetch_ohlcv("BTC/USDT", series["BTCUSDT"][1].open_time, 10)
        finally:
            await rest.close()
        assert list(markets) == ["BTC/USDT"] and venue.native_id("BTC/USDT") == "BTCUSDT"
        # closed candles oldest first, then (like the real endpoint) the one in progress
        assert [r[0] for r in rows[:-1]] == [r.open_time for r in series["BTCUSDT"][1:]]
        assert rows[-1][0] == series["BTCUSDT"][-1].close_time + 1 and rows[-1][5] == 0
        assert rows[0][1:5] == [series["BTCUSDT"][1].open, series["BTCUSDT"][1].high, series["BTCUSDT"][1].low,
                                series["BTCUSDT"][1].close]
        assert all(q.get("category") == category for p, q in fake.rest_requests if p.startswith("/v5/market/"))


@pytest.mark.parametrize("market", ["spot", "linear"])
async def test_disconnect_mid_replay_loses_and_duplicates_nothing(fake_bybit: Any, market: str) -> None:
    n = 40
    series = real_candles(n)
    fake: FakeBybit = await fake_bybit(market)
    for native in series:
        fake.list_symbol(native[:-4], "USDT")
    fake.set_now(series["BTCUSDT"][0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT", "SOL/USDT"])
    try:
        await play(fake, series, range(0, 15))
        await pub.wait_for(lambda p: len(p.records[topics.CANDLES_1M]) >= 30)
        await fake.drop_all(refuse=True)  # exchange goes away and refuses reconnects for 10 minutes
        await play(fake, series, range(15, 25))
        fake.accept()
        await play(fake, series, range(25, n), pause=0.02)

        def complete(p: MemoryPublisher) -> bool:
            return all(len(candles_of(p, s)) >= n for s in ("BTC/USDT", "SOL/USDT"))
        await pub.wait_for(complete, timeout=20)
        await asyncio.sleep(0.2)  # anything late would show up as a duplicate now
    finally:
        await stop_connector(conn)

    for native, symbol in (("BTCUSDT", "BTC/USDT"), ("SOLUSDT", "SOL/USDT")):
        got = candles_of(pub, symbol)
        rows = series[native]
        assert [c.open_time for c in got] == [r.open_time for r in rows], f"{symbol}: missing, duplicate or out of order"
        for c, r in zip(got, rows, strict=True):
            assert (c.open, c.high, c.low, c.close) == (r.open, r.high, r.low, r.close), f"{symbol} {c.open_time}"
            assert c.volume == pytest.approx(r.volume)
        assert {c.provenance for c in got} == {"ws_final", "rest_backfill"}
    assert conn.stats.reconnects >= 1
    assert fake.connections_refused >= 1
    assert conn.stats.backfilled >= 2 * 10
    assert conn.stats.gaps_unfilled == 0 and not pub.records[topics.DEADLETTER]
    ticks = pub.decoded(topics.TICKS, Tick)
    btc_ticks = [t for t in ticks if t.symbol == "BTC/USDT"]
    # each trade once; none while the exchange was away (trades are not backfilled)
    assert 0 < len({t.trade_id for t in btc_ticks}) == len(btc_ticks) <= n - 10
    quotes = pub.decoded(topics.QUOTES, Quote)
    assert quotes and all(q.bid <= q.ask for q in quotes)
    if market == "linear":
        funding = pub.decoded(topics.FUNDING, FundingRate)
        assert funding and all(f.funding_rate == 0.0001 and f.next_funding_time for f in funding)
        assert pub.decoded(topics.OPEN_INTEREST, OpenInterest)
    else:
        assert not pub.records[topics.FUNDING]
    assert conn.stats.skew.count > 0


@pytest.mark.parametrize("market", ["spot", "linear"])
async def test_gap_without_disconnect_is_backfilled_in_order(fake_bybit: Any, market: str) -> None:
    """The exchange silently skips two closing pushes: the next close reveals the gap."""
    series = real_candles(8)
    fake: FakeBybit = await fake_bybit(market)
    fake.list_symbol("BTC", "USDT")
    fake.set_now(series["BTCUSDT"][0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    rows = series["BTCUSDT"]
    try:
        await play(fake, {"BTCUSDT": rows}, range(0, 3))
        for r in rows[3:5]:
            fake.add_candles("BTCUSDT", [r])
            fake.set_now(r.close_time + 1)
        await play(fake, {"BTCUSDT": rows}, range(5, 8))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 8)
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert [c.open_time for c in got] == [r.open_time for r in rows]
    assert [c.provenance for c in got] == ["ws_final"] * 3 + ["rest_backfill"] * 2 + ["ws_final"] * 3
    assert conn.stats.gaps_detected == 1


@pytest.mark.parametrize("market", ["spot", "linear"])
async def test_malformed_frames_go_to_deadletter_and_stream_continues(fake_bybit: Any, market: str) -> None:
    series = real_candles(3)
    fake: FakeBybit = await fake_bybit(market)
    fake.list_symbol("BTC", "USDT")
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    rows = series["BTCUSDT"]
    truncated = '{"topic":"kline.1.BTCUSDT","data":[{"start":1'
    bad_price = fake.wrap("kline.1.BTCUSDT", fake.kline_payload(rows[0], confirm=True, ts=1))
    bad_price = bad_price.replace(f'"open":"{fake.kline_entry(rows[0], confirm=True, timestamp=1)["open"]}"', '"open":"NaN?"')
    assert "NaN?" in bad_price
    try:
        await play(fake, {"BTCUSDT": rows}, range(0, 1))
        await fake.send_raw(truncated)
        await fake.send_raw(bad_price)
        await play(fake, {"BTCUSDT": rows}, range(1, 3))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 3)
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert [d.reason for d in dls] == ["malformed_json", "bad_number"]
    assert dls[0].raw == truncated and "NaN?" in dls[1].raw
    assert all(d.source.startswith(f"connector:bybit-{market}") for d in dls)
    assert "BTC/USDT" in dls[1].detail
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows]
    assert fake.connections_accepted == 1  # the connection survived


async def test_rejected_subscription_is_dead_lettered(fake_bybit: Any) -> None:
    """A topic the exchange does not know is refused ({"success": false}); we say so."""
    fake: FakeBybit = await fake_bybit("spot")
    fake.list_symbol("BTC", "USDT")
    conn, pub = await start_connector(fake, "spot", ["BTC/USDT"])
    try:
        await conn.set_symbols(["BTC/USDT", "NOPE/USDT"])  # not listed by the exchange
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= 1)
    finally:
        await stop_connector(conn)
    (dl,) = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert dl.reason == "subscribe_rejected" and "NOPEUSDT" in dl.detail
    assert fake.rejected_requests


@pytest.mark.parametrize("market", ["spot", "linear"])
async def test_control_topic_change_takes_effect_without_restart(fake_bybit: Any, market: str) -> None:
    series = real_candles(4)
    fake: FakeBybit = await fake_bybit(market)
    fake.list_symbol("BTC", "USDT")
    fake.list_symbol("SOL", "USDT")
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    follower = SubscriptionFollower(conn)
    venue = conn.venue
    try:
        await play(fake, series, range(0, 1))
        assert await follower.apply(*subscription_record("bybit", market, ["BTC/USDT", "SOL/USDT"]))
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for("SOL/USDT")))
        await play(fake, series, range(1, 2))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 1)
        assert await follower.apply(*subscription_record("bybit", market, ["SOL/USDT"]))
        await fake.wait_until(lambda: not any(fake.subscribers(s) for s in venue.streams_for("BTC/USDT")))
        await play(fake, series, range(2, 4))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 3)
        other = "linear" if market == "spot" else "spot"
        assert not await follower.apply(*subscription_record("bybit", other, ["ETH/USDT"]))
        assert not await follower.apply(f"bybit:{market}".encode(), b'{"symbols": 5}')
    finally:
        await stop_connector(conn)
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in series["BTCUSDT"][:2]]
    assert [c.open_time for c in candles_of(pub, "SOL/USDT")] == [r.open_time for r in series["SOLUSDT"][1:4]]
    assert fake.connections_accepted == 1
    assert [d.reason for d in pub.decoded(topics.DEADLETTER, DeadLetter)] == ["malformed_subscription"]


class _SmallSpot(BybitSpotVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(BybitSpotVenue.limits, streams_per_connection=6,
                                                        client_msgs_per_second=4.0, connections_per_window=3,
                                                        connection_window_s=1.0)


class _SmallLinear(BybitLinearVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(BybitLinearVenue.limits, streams_per_connection=8,
                                                        streams_per_subscribe=1, client_msgs_per_second=8.0,
                                                        connections_per_window=3, connection_window_s=1.0)


@pytest.mark.parametrize(("market", "cls", "per_conn", "rate", "args"), [
    ("spot", _SmallSpot, 6, 5.0, 10), ("linear", _SmallLinear, 8, 10.0, 1)])
async def test_sharder_respects_stream_and_message_limits(fake_bybit: Any, market: str, cls: type, per_conn: int,
                                                          rate: float, args: int) -> None:
    fake: FakeBybit = await fake_bybit(market, max_streams_per_connection=per_conn, max_msgs_per_second=rate,
                                       max_args_per_request=args)
    bases = [f"C{i:02d}" for i in range(10)]
    for b in bases:
        fake.list_symbol(b, "USDT")
    symbols = [f"{b}/USDT" for b in bases]
    conn, _ = await start_connector(fake, market, symbols[:6], venue_cls=cls)
    try:
        await conn.set_symbols(symbols)
        wanted = [s for sym in symbols for s in conn.venue.streams_for(sym)]
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted), timeout=20)
        per_stream = [len(fake.subscribers(s)) for s in wanted]
    finally:
        await stop_connector(conn)
    assert fake.violations == [] and fake.rejected_requests == []
    live = list(fake.all_clients)
    assert max(c.max_streams_seen for c in live) <= per_conn
    streams_per_symbol = len(conn.venue.streams_for("C00/USDT"))
    assert len(live) == -(-len(symbols) // (per_conn // streams_per_symbol))
    assert all(n == 1 for n in per_stream)
    spacing = 1.0 / cls.limits.client_msgs_per_second
    for client in live:
        times = sorted(t for t, _ in client.received)
        assert all(sum(1 for u in times if 0 <= u - t < 1.0) <= rate for t in times)
        assert all(b - a >= 0.9 * spacing for a, b in zip(times, times[1:], strict=False))


async def test_spot_request_over_ten_args_is_refused_by_the_fake(fake_bybit: Any) -> None:
    """The fake enforces Bybit spot's 10-args rule, so the sharder test above means something."""
    fake: FakeBybit = await fake_bybit("spot")
    for i in range(11):
        fake.list_symbol(f"C{i:02d}", "USDT")

    class _Greedy(BybitSpotVenue):
        limits: ClassVar[VenueLimits] = dataclasses.replace(BybitSpotVenue.limits, streams_per_subscribe=33)

    conn, pub = None, None
    venue = _Greedy(VenueConfig(fake.ws_url, fake.rest_url))
    rest = CcxtRest(venue)
    await rest.load_markets()
    pub = MemoryPublisher()
    conn = Connector(venue, pub, rest, [f"C{i:02d}/USDT" for i in range(11)], options=fast_options(), clock=fake.now_ms)
    try:
        await conn.start()
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= 1)
    finally:
        await stop_connector(conn)
    (dl,) = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert dl.reason == "subscribe_rejected" and "args size" in dl.detail


async def test_app_ping_is_answered_and_consumed(fake_bybit: Any) -> None:
    fake: FakeBybit = await fake_bybit("linear")
    fake.list_symbol("BTC", "USDT")

    class _FastPing(BybitLinearVenue):
        app_ping_interval_s: ClassVar[float | None] = 0.1

    conn, pub = await start_connector(fake, "linear", ["BTC/USDT"], venue_cls=_FastPing)
    try:
        await fake.wait_until(lambda: fake.pings >= 3)
        await asyncio.sleep(0.05)
    finally:
        await stop_connector(conn)
    assert not pub.records[topics.DEADLETTER]  # pongs are not "unexpected frames"


async def test_audit_republishes_a_diverging_candle_as_correction(fake_bybit: Any) -> None:
    series = real_candles(5)
    fake: FakeBybit = await fake_bybit("linear")
    fake.list_symbol("BTC", "USDT")
    fake.set_now(series["BTCUSDT"][0].open_time)
    conn, pub = await start_connector(fake, "linear", ["BTC/USDT"])
    rows = series["BTCUSDT"]
    try:
        await play(fake, {"BTCUSDT": rows}, range(0, 5))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 5)
        assert await conn.audit_once() == 0
        fixed = dataclasses.replace(rows[3], close=rows[3].close + 1.0, high=max(rows[3].high, rows[3].close + 1.0))
        fake.add_candles("BTCUSDT", [fixed])
        assert await conn.audit_once() == 1
        assert await conn.audit_once() == 0
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert len(got) == 6
    corr = got[-1]
    assert (corr.provenance, corr.open_time, corr.close) == ("correction", rows[3].open_time, fixed.close)
