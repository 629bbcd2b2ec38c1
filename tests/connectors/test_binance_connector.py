"""The connector against a fake Binance on loopback, for spot and USDⓈ-M:
replay with a forced disconnect ends with every candle exactly once and in
order; malformed frames are dead-lettered while the stream goes on; control
changes take effect on the live connection; the sharder keeps to the limits;
rotation and the REST audit do their jobs."""

from __future__ import annotations

import asyncio
import dataclasses
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
from connectors.binance import BinanceSpotVenue, BinanceUsdmVenue
from connectors.control import SubscriptionFollower, subscription_record
from streams import topics
from streams.records import Candle, DeadLetter, Quote, Tick
from tests.connectors.fakes import shared_market_dir
from tests.connectors.fakes.binance import FakeBinance, load_jesse_candles
from tests.connectors.fakes.exchange import CandleRow

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = {"spot": BinanceSpotVenue, "usdm": BinanceUsdmVenue}
JESSE = shared_market_dir() / "jesse"


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


async def start_connector(fake: FakeBinance, market: str, symbols: list[str], venue_cls: type | None = None,
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


async def play(fake: FakeBinance, series: dict[str, list[CandleRow]], minutes: range, pause: float = 0.005) -> None:
    for i in minutes:
        for native, rows in series.items():
            await fake.play_minute(native, rows[i])
        await asyncio.sleep(pause)


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_disconnect_mid_replay_loses_and_duplicates_nothing(fake_binance: Any, market: str) -> None:
    n = 40
    series = real_candles(n)
    fake: FakeBinance = await fake_binance(market)
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
        provenances = {c.provenance for c in got}
        assert provenances == {"ws_final", "rest_backfill"}, provenances
    assert conn.stats.reconnects >= 1
    assert fake.connections_refused >= 1
    assert conn.stats.backfilled >= 2 * 10
    assert conn.stats.gaps_unfilled == 0 and not pub.records[topics.DEADLETTER]
    # ticks and quotes flowed too, each trade once
    ticks = pub.decoded(topics.TICKS, Tick)
    assert len({t.trade_id for t in ticks if t.symbol == "BTC/USDT"}) == len([t for t in ticks if t.symbol == "BTC/USDT"]) > 0
    assert pub.decoded(topics.QUOTES, Quote)
    assert conn.stats.skew.count > 0


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_gap_without_disconnect_is_backfilled_in_order(fake_binance: Any, market: str) -> None:
    """The exchange silently skips two closing frames: the next close reveals the gap."""
    series = real_candles(8)
    fake: FakeBinance = await fake_binance(market)
    fake.list_symbol("BTC", "USDT")
    fake.set_now(series["BTCUSDT"][0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    rows = series["BTCUSDT"]
    try:
        await play(fake, {"BTCUSDT": rows}, range(0, 3))
        for r in rows[3:5]:  # closes happen, but the websocket never tells us
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


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_malformed_frames_go_to_deadletter_and_stream_continues(fake_binance: Any, market: str) -> None:
    series = real_candles(3)
    fake: FakeBinance = await fake_binance(market)
    fake.list_symbol("BTC", "USDT")
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    rows = series["BTCUSDT"]
    truncated = '{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1'
    bad_price = fake.wrap("btcusdt@kline_1m", fake.kline_payload("BTCUSDT", rows[0], closed=True, event_time=1) | {})
    bad_price = bad_price.replace(f'"o":"{rows[0].open:.8f}"', '"o":"NaN?"')
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
    assert all(d.source.startswith(f"connector:binance-{market}") for d in dls)
    assert "BTC/USDT" in dls[1].detail
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows]
    assert fake.connections_accepted == 1  # the connection survived


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_control_topic_change_takes_effect_without_restart(fake_binance: Any, market: str) -> None:
    series = real_candles(4)
    fake: FakeBinance = await fake_binance(market)
    fake.list_symbol("BTC", "USDT")
    fake.list_symbol("SOL", "USDT")
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    follower = SubscriptionFollower(conn)
    venue = conn.venue
    try:
        await play(fake, series, range(0, 1))
        assert await follower.apply(*subscription_record("binance", market, ["BTC/USDT", "SOL/USDT"]))
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for("SOL/USDT")))
        await play(fake, series, range(1, 2))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 1)
        assert await follower.apply(*subscription_record("binance", market, ["SOL/USDT"]))
        await fake.wait_until(lambda: not any(fake.subscribers(s) for s in venue.streams_for("BTC/USDT")))
        await play(fake, series, range(2, 4))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 3)
        # someone else's venue and a broken record change nothing here
        assert not await follower.apply(*subscription_record("binance", "coinm" if market == "usdm" else "usdm", ["ETH/USDT"]))
        assert not await follower.apply(f"binance:{market}".encode(), b'{"symbols": 5}')
    finally:
        await stop_connector(conn)
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in series["BTCUSDT"][:2]]
    assert [c.open_time for c in candles_of(pub, "SOL/USDT")] == [r.open_time for r in series["SOLUSDT"][1:4]]
    assert fake.connections_accepted == 1  # same connection throughout
    assert [d.reason for d in pub.decoded(topics.DEADLETTER, DeadLetter)] == ["malformed_subscription"]


class _SmallSpot(BinanceSpotVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(BinanceSpotVenue.limits, streams_per_connection=6,
                                                        streams_per_subscribe=1, client_msgs_per_second=4.0,
                                                        connections_per_window=3, connection_window_s=1.0)


class _SmallUsdm(BinanceUsdmVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(BinanceUsdmVenue.limits, streams_per_connection=8,
                                                        streams_per_subscribe=1, client_msgs_per_second=8.0,
                                                        connections_per_window=3, connection_window_s=1.0)


@pytest.mark.parametrize(("market", "cls", "per_conn", "rate"), [("spot", _SmallSpot, 6, 5.0), ("usdm", _SmallUsdm, 8, 10.0)])
async def test_sharder_respects_stream_and_message_limits(fake_binance: Any, market: str, cls: type,
                                                          per_conn: int, rate: float) -> None:
    fake: FakeBinance = await fake_binance(market, max_streams_per_connection=per_conn, max_msgs_per_second=rate)
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
    assert fake.violations == []
    live = [c for c in fake.all_clients]
    assert max(c.max_streams_seen for c in live) <= per_conn
    streams_per_symbol = len(conn.venue.streams_for("C00/USDT"))
    assert len(live) == -(-len(symbols) // (per_conn // streams_per_symbol))
    assert all(n == 1 for n in per_stream)  # each stream on exactly one connection
    # subscribe messages are paced: never more than the documented limit in any 1 s
    # window, and spaced by the venue's pacing interval (which stays under it)
    spacing = 1.0 / cls.limits.client_msgs_per_second
    for client in live:
        times = sorted(t for t, _ in client.received)
        assert len(times) == per_conn  # one stream per message in this test
        assert all(sum(1 for u in times if 0 <= u - t < 1.0) <= rate for t in times)
        assert all(b - a >= 0.9 * spacing for a, b in zip(times, times[1:], strict=False))


async def test_rotation_replaces_connection_without_gap(fake_binance: Any) -> None:
    series = real_candles(12)
    fake: FakeBinance = await fake_binance("spot")
    fake.list_symbol("BTC", "USDT")
    fake.set_now(series["BTCUSDT"][0].open_time)
    conn, pub = await start_connector(fake, "spot", ["BTC/USDT"])
    rows = series["BTCUSDT"]
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


async def test_audit_republishes_a_diverging_candle_as_correction(fake_binance: Any) -> None:
    series = real_candles(5)
    fake: FakeBinance = await fake_binance("usdm")
    fake.list_symbol("BTC", "USDT")
    fake.set_now(series["BTCUSDT"][0].open_time)
    conn, pub = await start_connector(fake, "usdm", ["BTC/USDT"])
    rows = series["BTCUSDT"]
    try:
        await play(fake, {"BTCUSDT": rows}, range(0, 5))
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 5)
        assert await conn.audit_once() == 0
        fixed = dataclasses.replace(rows[3], close=rows[3].close + 1.0, high=max(rows[3].high, rows[3].close + 1.0))
        fake.add_candles("BTCUSDT", [fixed])  # the exchange revised a candle after the fact
        assert await conn.audit_once() == 1
        assert await conn.audit_once() == 0  # once corrected, it agrees
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert len(got) == 6
    corr = got[-1]
    assert (corr.provenance, corr.open_time, corr.close) == ("correction", rows[3].open_time, fixed.close)


async def test_stale_stream_triggers_reconnect(fake_binance: Any) -> None:
    fake: FakeBinance = await fake_binance("spot")
    fake.list_symbol("BTC", "USDT")
    conn, _ = await start_connector(fake, "spot", ["BTC/USDT"], stale_after_s=0.4)
    try:
        await fake.wait_until(lambda: fake.connections_accepted >= 2, timeout=10)
    finally:
        await stop_connector(conn)
    stale = sum(c.stale_reconnects for c in conn.connections.values())
    assert stale >= 1
