"""The connector against a fake MEXC on loopback, spot (binary protobuf pushes)
and USDT-M contracts (JSON): ccxt's mexc client loads markets, tickers and
klines from the fake; windows close when the next window starts or when the
exchange clock passes their end (no close flag); a forced disconnect
mid-replay ends with every candle exactly once and in order; a silent gap is
backfilled; malformed frames, corrupt protobuf included, are dead-lettered
while the stream goes on; a refused subscription is dead-lettered; control
changes take effect on the live connection; the sharder keeps to MEXC's 30
subscriptions per spot connection and to the message rate."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

import pytest

from connectors.base import CcxtRest, Connector, MemoryPublisher, VenueConfig, VenueLimits
from connectors.control import SubscriptionFollower, subscription_record
from connectors.mexc import MexcFuturesVenue, MexcSpotVenue, config
from connectors.universe import UniverseRules, load_universe
from streams import topics
from streams.records import DeadLetter, FundingRate, OpenInterest, Quote, Tick
from tests.connectors.fakes.exchange import CandleRow
from tests.connectors.fakes.mexc import FakeMexc, contracts, encode_push
from tests.connectors.test_binance_connector import candles_of, fast_options, real_candles

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = {"spot": MexcSpotVenue, "futures": MexcFuturesVenue}
MARKET = {"spot": "spot", "futures": "linear"}


@pytest.fixture
async def fake_mexc() -> Any:
    started: list[FakeMexc] = []

    async def make(market: str = "spot", **kw: Any) -> FakeMexc:
        fake = FakeMexc(market, **kw)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()


def mexc_candles(fake: FakeMexc, n: int) -> dict[str, list[CandleRow]]:
    """Real BTC and SOL 1m candles, listed on the fake under MEXC's ids."""
    return {fake.list_symbol(native[:-4], "USDT"): rows for native, rows in real_candles(n).items()}


async def start_connector(fake: FakeMexc, market: str, symbols: list[str], venue_cls: type | None = None,
                          wait: bool = True, **opts: Any) -> tuple[Connector, MemoryPublisher]:
    cls = venue_cls or VENUES[market]
    venue = cls(VenueConfig(fake.ws_url, fake.rest_url, channels=cls().config.channels))
    rest = CcxtRest(venue)
    # ccxt paces by MEXC's weights (exchangeInfo alone waits 1.25 s); that pacing is
    # exercised in the ccxt test above, here it would only add idle seconds.
    rest.exchange.enableRateLimit = False
    await rest.load_markets()
    pub = MemoryPublisher()
    conn = Connector(venue, pub, rest, symbols, options=fast_options(**opts), clock=fake.now_ms)
    await conn.start()
    if wait:
        wanted = [s for sym in symbols for s in venue.streams_for(sym)]
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted))
    return conn, pub


async def stop_connector(conn: Connector) -> None:
    await conn.stop()
    await conn.rest.close()


async def play(fake: FakeMexc, series: dict[str, list[CandleRow]], minutes: range, pause: float = 0.005) -> None:
    for i in minutes:
        for native, rows in series.items():
            await fake.play_minute(native, rows[i])
        await asyncio.sleep(pause)


async def after_grace(fake: FakeMexc, native: str, row: CandleRow) -> None:
    """A trade a second past ``row``'s end plus the grace: the exchange clock closes ``row``."""
    await fake.send_trade(native, row.close, row.close_time + 1 + config.KLINE_CLOSE_GRACE_MS + 1_000)


def volume_of(market: str, row: CandleRow) -> float:
    return float(contracts(row.volume)) if market == "futures" else row.volume


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_markets_tickers_and_rest_candles_through_ccxt(fake_mexc: Any, market: str) -> None:
    """ccxt's mexc client, pointed at the fake: our market type only, ranked by
    24h quote volume, klines oldest first in REST units."""
    fake: FakeMexc = await fake_mexc(market)
    series = mexc_candles(fake, 5)
    native, rows = next(iter(series.items()))
    fake.list_symbol("DOGE", "USDT", quote_volume_24h=5e9)
    fake.list_symbol("ETH", "BTC", quote_volume_24h=9e9)
    fake.add_candles(native, rows)
    fake.set_now(rows[-1].close_time + 1)
    venue = VENUES[market](VenueConfig(fake.ws_url, fake.rest_url))
    rest = CcxtRest(venue)
    try:
        top = await load_universe(rest, UniverseRules(top=2, quote="USDT"))
        got = await rest.fetch_ohlcv("BTC/USDT", rows[1].open_time, 10)
    finally:
        await rest.close()
    assert top[0] == "DOGE/USDT" and len(top) == 2 and "ETH/BTC" not in top
    assert venue.native_id("DOGE/USDT") == ("DOGEUSDT" if market == "spot" else "DOGE_USDT")
    # closed candles oldest first, then (like the real endpoint) the one in progress
    assert [r[0] for r in got[:-1]] == [r.open_time for r in rows[1:]]
    assert got[-1][0] == rows[-1].close_time + 1 and got[-1][5] == 0
    assert got[0][1:6] == [rows[1].open, rows[1].high, rows[1].low, rows[1].close, volume_of(market, rows[1])]
    paths = {p for p, _ in fake.rest_requests}
    assert ("/api/v3/klines" in paths) == (market == "spot")
    assert any(p.startswith("/api/v1/contract/kline/") for p in paths) == (market == "futures")


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_disconnect_mid_replay_loses_and_duplicates_nothing(fake_mexc: Any, market: str) -> None:
    n = 40
    fake: FakeMexc = await fake_mexc(market)
    series = mexc_candles(fake, n)
    first = next(iter(series.values()))
    fake.set_now(first[0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT", "SOL/USDT"])
    try:
        await play(fake, series, range(0, 15))
        await pub.wait_for(lambda p: len(p.records[topics.CANDLES_1M]) >= 28)  # window 14 is still open
        await fake.drop_all(refuse=True)  # the exchange goes away and refuses reconnects for 10 minutes
        await fake.wait_until(lambda: fake.connections_refused >= 1)
        await play(fake, series, range(15, 25))
        fake.accept()
        await play(fake, series, range(25, n), pause=0.02)
        btc = next(iter(series))
        await after_grace(fake, btc, series[btc][n - 1])  # no next window: the timer closes n-1

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
            assert (c.exchange, c.market) == ("mexc", MARKET[market])
            assert (c.open, c.high, c.low, c.close) == (r.open, r.high, r.low, r.close), f"{symbol} {c.open_time}"
            assert c.volume == pytest.approx(volume_of(market, r)), f"{symbol} {c.open_time}"
        assert {c.provenance for c in got} == {"inferred", "rest_backfill"}
    assert conn.stats.reconnects >= 1 and fake.connections_refused >= 1
    assert conn.stats.backfilled >= 2 * 10
    assert conn.stats.gaps_unfilled == 0 and not pub.records[topics.DEADLETTER]
    assert conn.venue.timer_closes >= 1
    ticks = [t for t in pub.decoded(topics.TICKS, Tick) if t.symbol == "BTC/USDT"]
    assert ticks and len({t.trade_id for t in ticks}) == len(ticks)
    assert pub.decoded(topics.QUOTES, Quote)
    if market == "futures":
        funding = [f for f in pub.decoded(topics.FUNDING, FundingRate) if f.symbol == "BTC/USDT"]
        assert funding and {f.funding_rate for f in funding} == {0.0001}
        assert any(f.next_funding_time is not None for f in funding)
        oi = pub.decoded(topics.OPEN_INTEREST, OpenInterest)
        assert oi and {o.open_interest for o in oi} == {22030280.0}


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_gap_without_disconnect_is_backfilled_in_order(fake_mexc: Any, market: str) -> None:
    """Two windows pass without a single frame: the next window reveals the gap."""
    fake: FakeMexc = await fake_mexc(market)
    native, rows = next(iter(mexc_candles(fake, 9).items()))
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
    provenance = [c.provenance for c in got]
    assert provenance[:5] == ["inferred"] * 3 + ["rest_backfill"] * 2
    # windows closing while the REST call runs come from whichever source has them first
    assert set(provenance[5:]) <= {"inferred", "rest_backfill"}
    assert [(c.open, c.high, c.low, c.close) for c in got] == [(r.open, r.high, r.low, r.close) for r in rows[:8]]
    assert conn.stats.gaps_detected == 1


async def test_quiet_symbol_is_closed_by_the_timer(fake_mexc: Any) -> None:
    """SOL trades once and goes quiet; BTC's frames move the exchange clock past
    SOL's window end plus the grace, and SOL's window is published anyway."""
    fake: FakeMexc = await fake_mexc("spot")
    series = mexc_candles(fake, 3)
    btc, sol = list(series)
    fake.set_now(series[btc][0].open_time)
    conn, pub = await start_connector(fake, "spot", ["BTC/USDT", "SOL/USDT"])
    try:
        await play(fake, series, range(0, 1))
        await play(fake, {btc: series[btc]}, range(1, 2))  # BTC's partial push at +30 s passes SOL's end + 3 s
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) == 1 and len(candles_of(p, "BTC/USDT")) == 1)
    finally:
        await stop_connector(conn)
    (c,) = candles_of(pub, "SOL/USDT")
    assert (c.open_time, c.close, c.provenance) == (series[sol][0].open_time, series[sol][0].close, "inferred")
    assert conn.venue.timer_closes == 1


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_malformed_frames_go_to_deadletter_and_stream_continues(fake_mexc: Any, market: str) -> None:
    fake: FakeMexc = await fake_mexc(market)
    native, rows = next(iter(mexc_candles(fake, 4).items()))
    fake.set_now(rows[0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    if market == "spot":
        good = fake.quote(native, 1.0, 2.0, rows[1].open_time + 5)[1]
        bad: list[Any] = [
            good[:-3],  # corrupt protobuf: the book ticker is cut short
            good.replace(b"BTCUSDT\x30", b"BTCUSDT\x37"),  # a tag with wire type 7 (there is none)
            good.replace(b"1.5", b"x.5"),  # valid protobuf, bad number
            encode_push(f"spot@public.limit.depth.v3.api.pb@{native}@5", "publicLimitDepths", b"\x0a\x00",
                        symbol=native, send_time=1),  # a body we never subscribed to
        ]
        reasons = ["malformed_protobuf", "malformed_protobuf", "bad_number", "unexpected_stream"]
    else:
        deal = fake.wrap(f"deal:{native}", fake.trade(native, 1.0, 0.01, rows[1].open_time + 5, False)[1])
        bad = [deal[:-7], deal.replace('"p":1.0', '"p":"NaN?"'), deal.replace('"T":1', '"T":7')]
        reasons = ["malformed_json", "schema_mismatch", "bad_side"]
    try:
        await play(fake, {native: rows}, range(0, 1))
        for frame in bad:
            await fake.send_raw(frame)
        await play(fake, {native: rows}, range(1, 3))
        await fake.open_window(native, rows[3])
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 3)
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert [d.reason for d in dls] == reasons
    assert all(d.source.startswith(f"connector:mexc-{market}") for d in dls)
    if market == "spot":
        import base64
        assert all(base64.b64encode(f).decode() in d.detail for f, d in zip(bad, dls, strict=True))
    else:
        assert [d.raw for d in dls] == bad
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows[:3]]
    assert fake.connections_accepted == 1  # the connection survived


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_rejected_subscription_is_dead_lettered(fake_mexc: Any, market: str) -> None:
    fake: FakeMexc = await fake_mexc(market)
    fake.list_symbol("BTC", "USDT")
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    try:
        await conn.set_symbols(["BTC/USDT", "NOPE/USDT"])  # not listed by the exchange
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= 1)
        await asyncio.sleep(0.1)
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert dls and {d.reason for d in dls} == {"subscribe_rejected"}
    assert "NOPE" in dls[0].detail
    assert fake.connections_accepted == 1


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_control_topic_change_takes_effect_without_restart(fake_mexc: Any, market: str) -> None:
    fake: FakeMexc = await fake_mexc(market)
    series = mexc_candles(fake, 5)
    btc, sol = list(series)
    fake.set_now(series[btc][0].open_time)
    conn, pub = await start_connector(fake, market, ["BTC/USDT"])
    follower = SubscriptionFollower(conn)
    venue = conn.venue
    try:
        await play(fake, series, range(0, 1))
        assert await follower.apply(*subscription_record("mexc", MARKET[market], ["BTC/USDT", "SOL/USDT"]))
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for("SOL/USDT")))
        await play(fake, series, range(1, 3))
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 1)
        assert await follower.apply(*subscription_record("mexc", MARKET[market], ["SOL/USDT"]))
        await fake.wait_until(lambda: not any(fake.subscribers(s) for s in venue.streams_for("BTC/USDT")))
        await play(fake, series, range(3, 4))
        await fake.open_window(sol, series[sol][4])
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 3)
        assert not await follower.apply(*subscription_record("mexc", "usdm", ["ETH/USDT"]))  # not ours
    finally:
        await stop_connector(conn)
    # BTC: windows 0 and 1 closed while subscribed; SOL: from window 1 on
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in series[btc][:2]]
    assert [c.open_time for c in candles_of(pub, "SOL/USDT")] == [r.open_time for r in series[sol][1:4]]
    assert fake.connections_accepted == 1  # same connection throughout
    unsub = [r for r in fake.requests if str(r.get("method")).lower().startswith("unsub")]
    assert unsub and all(btc in str(r.get("params") or r.get("param")) for r in unsub)


class _SmallFutures(MexcFuturesVenue):
    limits: ClassVar[VenueLimits] = dataclasses.replace(MexcFuturesVenue.limits, streams_per_connection=10,
                                                        client_msgs_per_second=8.0, connections_per_window=3,
                                                        connection_window_s=1.0)


@pytest.mark.parametrize(("market", "cls", "n_symbols", "per_conn"), [("spot", MexcSpotVenue, 25, 30),
                                                                      ("futures", _SmallFutures, 6, 10)])
async def test_sharder_respects_stream_and_message_limits(fake_mexc: Any, market: str, cls: type, n_symbols: int,
                                                          per_conn: int) -> None:
    """Spot with MEXC's real limit (30 subscriptions per connection)."""
    rate = cls.limits.client_msgs_per_second + 2
    fake: FakeMexc = await fake_mexc(market, max_streams_per_connection=per_conn, max_msgs_per_second=rate)
    bases = [f"C{i:02d}" for i in range(n_symbols)]
    for b in bases:
        fake.list_symbol(b, "USDT")
    symbols = [f"{b}/USDT" for b in bases]
    conn, _ = await start_connector(fake, market, symbols[:3], venue_cls=cls)
    try:
        await conn.set_symbols(symbols)
        wanted = [s for sym in symbols for s in conn.venue.streams_for(sym)]
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted), timeout=30)
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
        assert all(sum(1 for u in times if 0 <= u - t < 1.0) <= cls.limits.client_msgs_per_second for t in times)
        assert all(b - a >= 0.9 * spacing for a, b in zip(times, times[1:], strict=False))


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_app_ping_is_answered_and_consumed(fake_mexc: Any, market: str) -> None:
    fake: FakeMexc = await fake_mexc(market)
    fake.list_symbol("BTC", "USDT")

    class _FastPing(VENUES[market]):  # type: ignore[misc,valid-type]
        app_ping_interval_s: ClassVar[float | None] = 0.1

    conn, pub = await start_connector(fake, market, ["BTC/USDT"], venue_cls=_FastPing)
    try:
        await fake.wait_until(lambda: fake.pings >= 3)
        await asyncio.sleep(0.05)
    finally:
        await stop_connector(conn)
    assert not pub.records[topics.DEADLETTER]  # PONGs are not "unexpected frames"


async def test_audit_agrees_with_rest_and_catches_a_revision(fake_mexc: Any) -> None:
    fake: FakeMexc = await fake_mexc("futures")
    native, rows = next(iter(mexc_candles(fake, 6).items()))
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
