"""The connector against a fake KuCoin on loopback, spot and USDT futures:
every connection first fetches a bullet token over REST; windows close when
the next window starts (no close flag); a forced disconnect mid-replay ends
with every candle exactly once and in order; a silent gap is backfilled;
malformed frames are dead-lettered while the stream goes on; control changes
take effect on the live connection; the sharder keeps to the limits."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

import pytest

from connectors.base import CcxtRest, Connector, MemoryPublisher, VenueConfig, VenueLimits
from connectors.control import SubscriptionFollower, subscription_record
from connectors.kucoin import KucoinFuturesVenue, KucoinSpotVenue
from streams import topics
from streams.records import DeadLetter, FundingRate, Quote, Tick
from tests.connectors.fakes.exchange import CandleRow
from tests.connectors.fakes.kucoin import FakeKucoin, contracts
from tests.connectors.test_binance_connector import candles_of, fast_options, real_candles

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = {"spot": KucoinSpotVenue, "futures": KucoinFuturesVenue}
MARKET = {"spot": "spot", "futures": "linear"}


@pytest.fixture
async def fake_kucoin() -> Any:
    started: list[FakeKucoin] = []

    async def make(market: str = "spot", **kw: Any) -> FakeKucoin:
        fake = FakeKucoin(market, **kw)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()


def kucoin_candles(fake: FakeKucoin, n: int) -> dict[str, list[CandleRow]]:
    """Real BTC and SOL 1m candles, listed on the fake under KuCoin's ids."""
    out = {}
    for native, rows in real_candles(n).items():
        out[fake.list_symbol(native[:-4], "USDT")] = rows
    return out


async def start_connector(fake: FakeKucoin, market: str, symbols: list[str], venue_cls: type | None = None,
                          **opts: Any) -> tuple[Connector, MemoryPublisher]:
    cls = venue_cls or VENUES[market]
    # Only the REST URL points at the fake: the websocket endpoint comes from bullet-public.
    venue = cls(VenueConfig(cls.default_ws_url, fake.rest_url, channels=cls().config.channels))
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


async def play(fake: FakeKucoin, series: dict[str, list[CandleRow]], minutes: range, pause: float = 0.005) -> None:
    for i in minutes:
        for native, rows in series.items():
            await fake.play_minute(native, rows[i])
        await asyncio.sleep(pause)


def volume_of(market: str, row: CandleRow) -> float:
    return float(contracts(row.volume)) if market == "futures" else row.volume


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_disconnect_mid_replay_loses_and_duplicates_nothing(fake_kucoin: Any, market: str) -> None:
    n = 40
    fake: FakeKucoin = await fake_kucoin(market)
    series = kucoin_candles(fake, n + 1)
    first = next(iter(series.values()))
    fake.set_now(first[0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT", "SOL/USDT"])
    try:
        await play(fake, series, range(0, 15))
        await pub.wait_for(lambda p: len(p.records[topics.CANDLES_1M]) >= 28)  # window 14 is still open
        await fake.drop_all(refuse=True)  # the exchange goes away and refuses reconnects for 10 minutes
        await fake.wait_until(lambda: fake.connections_refused >= 1)  # a token was fetched, the socket refused
        await play(fake, series, range(15, 25))
        fake.accept()
        await play(fake, series, range(25, n), pause=0.02)
        for native, rows in series.items():
            await fake.open_window(native, rows[n])  # closes window n-1

        def complete(p: MemoryPublisher) -> bool:
            return all(len(candles_of(p, s)) >= n for s in ("BTC/USDT", "SOL/USDT"))
        await pub.wait_for(complete, timeout=20)
        await asyncio.sleep(0.2)  # anything late would show up as a duplicate now
    finally:
        await stop_connector(conn)

    for native, rows in series.items():
        symbol = conn.venue.unified_symbol(native)
        got = candles_of(pub, symbol)
        assert [c.open_time for c in got] == [r.open_time for r in rows[:n]], f"{symbol}: missing, duplicate or out of order"
        for c, r in zip(got, rows, strict=False):
            assert (c.exchange, c.market) == ("kucoin", MARKET[market])
            assert (c.open, c.high, c.low, c.close) == (r.open, r.high, r.low, r.close), f"{symbol} {c.open_time}"
            assert c.volume == pytest.approx(volume_of(market, r)), f"{symbol} {c.open_time}"
        assert {c.provenance for c in got} == {"ws_final", "rest_backfill"}
    assert conn.stats.reconnects >= 1 and fake.connections_refused >= 1
    assert conn.stats.backfilled >= 2 * 10
    assert conn.stats.gaps_unfilled == 0 and not pub.records[topics.DEADLETTER]
    # every connection came with a fresh bullet token, and none without
    assert fake.tokenless_refused == 0 and len(fake.tokens) >= 2
    ticks = [t for t in pub.decoded(topics.TICKS, Tick) if t.symbol == "BTC/USDT"]
    assert ticks and len({t.trade_id for t in ticks}) == len(ticks)
    assert pub.decoded(topics.QUOTES, Quote)
    if market == "futures":
        funding = [f for f in pub.decoded(topics.FUNDING, FundingRate) if f.symbol == "BTC/USDT"]
        # mark and funding arrive as separate pushes; once both were seen every record carries both
        assert funding[0].funding_rate is None and {f.funding_rate for f in funding[1:]} == {0.0001}
        assert all(f.mark_price == f.index_price for f in funding)


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_gap_without_disconnect_is_backfilled_in_order(fake_kucoin: Any, market: str) -> None:
    """Two windows pass without a single push: the next window reveals the gap."""
    fake: FakeKucoin = await fake_kucoin(market)
    native, rows = next(iter(kucoin_candles(fake, 9).items()))
    fake.set_now(rows[0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    try:
        await play(fake, {native: rows}, range(0, 3))
        for r in rows[3:5]:
            fake.add_candles(native, [r])
            fake.set_now(r.close_time + 1)
        await play(fake, {native: rows}, range(5, 8))
        await fake.open_window(native, rows[8])
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 8)
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert [c.open_time for c in got] == [r.open_time for r in rows[:8]]
    assert [c.provenance for c in got] == ["ws_final"] * 3 + ["rest_backfill"] * 2 + ["ws_final"] * 3
    assert conn.stats.gaps_detected == 1


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_malformed_frames_go_to_deadletter_and_stream_continues(fake_kucoin: Any, market: str) -> None:
    fake: FakeKucoin = await fake_kucoin(market)
    native, rows = next(iter(kucoin_candles(fake, 4).items()))
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    topic = fake.kline_topic(native)
    truncated = f'{{"type":"message","topic":"{topic}","data":{{"candles":["1'
    bad_price = fake.wrap(topic, fake.candle_push(native, rows[0], 1)).replace(f'"{rows[0].open:.8f}"', '"NaN?"')
    assert "NaN?" in bad_price
    try:
        await play(fake, {native: rows}, range(0, 1))
        await fake.send_raw(truncated)
        await fake.send_raw(bad_price)
        await play(fake, {native: rows}, range(1, 3))
        await fake.open_window(native, rows[3])
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 3)
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert [d.reason for d in dls] == ["malformed_json", "bad_number"]
    assert dls[0].raw == truncated and "NaN?" in dls[1].raw
    assert all(d.source.startswith(f"connector:kucoin-{market}") for d in dls)
    assert "BTC/USDT" in dls[1].detail
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows[:3]]
    assert fake.connections_accepted == 1  # the connection survived


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_control_topic_change_takes_effect_without_restart(fake_kucoin: Any, market: str) -> None:
    fake: FakeKucoin = await fake_kucoin(market)
    series = kucoin_candles(fake, 5)
    btc, sol = list(series)
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    follower = SubscriptionFollower(conn)
    venue = conn.venue
    try:
        await play(fake, series, range(0, 1))
        assert await follower.apply(*subscription_record("kucoin", MARKET[market], ["BTC/USDT", "SOL/USDT"]))
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for("SOL/USDT")))
        await play(fake, series, range(1, 3))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 1)
        assert await follower.apply(*subscription_record("kucoin", MARKET[market], ["SOL/USDT"]))
        await fake.wait_until(lambda: not any(fake.subscribers(s) for s in venue.streams_for("BTC/USDT")))
        await play(fake, series, range(3, 4))
        await fake.open_window(sol, series[sol][4])
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 3)
        assert not await follower.apply(*subscription_record("kucoin", "usdm", ["ETH/USDT"]))  # not ours
    finally:
        await stop_connector(conn)
    # BTC: windows 0 and 1 closed while subscribed (window 2's push closed 1); SOL: from window 1 on
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in series[btc][:2]]
    assert [c.open_time for c in candles_of(pub, "SOL/USDT")] == [r.open_time for r in series[sol][1:4]]
    assert fake.connections_accepted == 1  # same connection throughout
    unsub = [r for r in fake.requests if r.get("type") == "unsubscribe"]
    assert unsub and all(btc in r["topic"] for r in unsub)


class _SmallSpot(KucoinSpotVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(KucoinSpotVenue.limits, streams_per_connection=6,
                                                        streams_per_subscribe=1, client_msgs_per_second=4.0,
                                                        connections_per_window=3, connection_window_s=1.0)


class _SmallFutures(KucoinFuturesVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(KucoinFuturesVenue.limits, streams_per_connection=8,
                                                        streams_per_subscribe=1, client_msgs_per_second=8.0,
                                                        connections_per_window=3, connection_window_s=1.0)


@pytest.mark.parametrize(("market", "cls", "per_conn", "rate"), [("spot", _SmallSpot, 6, 5.0),
                                                                  ("futures", _SmallFutures, 8, 10.0)])
async def test_sharder_respects_stream_and_message_limits(fake_kucoin: Any, market: str, cls: type,
                                                          per_conn: int, rate: float) -> None:
    fake: FakeKucoin = await fake_kucoin(market, max_streams_per_connection=per_conn, max_msgs_per_second=rate)
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
    live = list(fake.all_clients)
    assert max(c.max_streams_seen for c in live) <= per_conn
    streams_per_symbol = len(conn.venue.streams_for("C00/USDT"))
    assert len(live) == -(-len(symbols) // (per_conn // streams_per_symbol))
    assert all(n == 1 for n in per_stream)
    spacing = 1.0 / cls.limits.client_msgs_per_second
    for client in live:
        times = sorted(t for t, _ in client.received)
        assert len(times) == per_conn  # one topic per subscribe in this test
        assert all(sum(1 for u in times if 0 <= u - t < 1.0) <= rate for t in times)
        assert all(b - a >= 0.9 * spacing for a, b in zip(times, times[1:], strict=False))


async def test_audit_agrees_with_rest_and_catches_a_revision(fake_kucoin: Any) -> None:
    fake: FakeKucoin = await fake_kucoin("futures")
    native, rows = next(iter(kucoin_candles(fake, 6).items()))
    fake.set_now(rows[0].open_time)
    conn, pub = await start_connector(fake, "futures", ["BTC/USDT"])
    try:
        await play(fake, {native: rows}, range(0, 5))
        await fake.open_window(native, rows[5])
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 5)
        assert await conn.audit_once() == 0  # websocket contracts == REST contracts
        fixed = dataclasses.replace(rows[3], close=rows[3].close + 1.0, high=max(rows[3].high, rows[3].close + 1.0))
        fake.add_candles(native, [fixed])
        assert await conn.audit_once() == 1
    finally:
        await stop_connector(conn)
    corr = candles_of(pub, "BTC/USDT")[-1]
    assert (corr.provenance, corr.open_time, corr.close) == ("correction", rows[3].open_time, fixed.close)
