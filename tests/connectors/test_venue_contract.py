"""The contract every registered venue keeps, run against its fake on loopback.

For each name in ``connectors.registry.venue_names()``, driven by the venue's
adapter (``tests/connectors/fakes/adapters/<exchange>.py``, see
``tests/connectors/fakes/adapter.py``):

* captured frames decode to the right records, and every record is sane;
  bad frames raise ``RecordError`` with the reason; subscribe requests carry
  at most the documented number of streams;
* a disconnect in the middle of a replay ends with every candle exactly once,
  in order, the outage filled over REST (``rest_backfill``);
* a gap without a disconnect is backfilled over REST, in order;
* a malformed frame is dead-lettered with the raw frame and the reason, and
  the stream goes on on the same connection;
* a ``control.subscriptions`` change takes effect on the live connection;
* stream, request and message-rate limits hold (the fake enforces them);
* the REST audit republishes a changed candle as a ``correction``;
* where the fake refuses unlisted symbols, the refusal is dead-lettered.

Venue quirks (OKX's two endpoints, MEXC's protobuf, KuCoin's token, inferred
closes, ...) are tested in the per-venue files.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections import Counter
from typing import Any

import msgspec
import pytest

from connectors.control import SubscriptionFollower, subscription_record
from connectors.records import SubscribeAck
from connectors.registry import venue_names
from streams import topics
from streams.records import (
    MARKETS,
    Candle,
    DeadLetter,
    FundingRate,
    OpenInterest,
    Quote,
    RecordError,
    Tick,
)
from tests.connectors.fakes.adapter import (
    VenueAdapter,
    adapter_for,
    candles_of,
    jesse_candles,
    play,
    stop_connector,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = venue_names()
REQUIRED_BAD_REASONS = {"malformed_json", "schema_mismatch", "unknown_symbol", "unexpected_stream", "high_below_low"}


@pytest.fixture
def started(fakes: Any) -> Any:
    """``await started(adapter, **fake_kwargs)`` -> the venue's fake, started (stopped after the test)."""

    async def make(adapter: VenueAdapter, **kw: Any) -> Any:
        return await fakes(adapter.fake_cls, adapter.fake_market, **kw)

    return make


def listed(adapter: VenueAdapter, fake: Any, n: int, bases: tuple[str, ...] = ("BTC", "SOL")) -> dict[str, list[Any]]:
    """Real candles of ``bases`` listed on the fake, keyed by exchange id (n + 1 rows:
    venues without a close flag need the next window to close the last one)."""
    return {adapter.list_symbol(fake, base): rows for base, rows in jesse_candles(n + 1).items() if base in bases}


# ---- decoding ------------------------------------------------------------------------


def check_record(adapter: VenueAdapter, rec: msgspec.Struct, received_at: int) -> None:
    """What holds for every record any venue publishes."""
    venue = adapter.venue_cls
    if isinstance(rec, SubscribeAck):
        return
    assert (rec.exchange, rec.market) == (venue.exchange, venue.market), rec  # type: ignore[attr-defined]
    assert rec.received_at <= received_at, rec  # type: ignore[attr-defined]
    if isinstance(rec, Candle):
        assert (rec.tf, rec.provenance, rec.close_time) == ("1m", adapter.ws_provenance, rec.open_time + 59_999), rec
        assert 0 < rec.low <= min(rec.open, rec.close) <= max(rec.open, rec.close) <= rec.high, rec
        assert rec.volume >= 0 and rec.open_time % 60_000 == 0, rec
    else:
        assert rec.received_at == received_at, rec  # type: ignore[attr-defined]
    if isinstance(rec, Tick):
        assert rec.price > 0 and rec.qty > 0 and rec.side in ("buy", "sell") and rec.trade_id, rec
    if isinstance(rec, Quote):
        assert 0 < rec.bid <= rec.ask and rec.bid_qty > 0 and rec.ask_qty > 0, rec
    if isinstance(rec, FundingRate):
        assert rec.mark_price > 0, rec
    if isinstance(rec, OpenInterest):
        assert rec.open_interest >= 0, rec


@pytest.mark.parametrize("venue", VENUES)
def test_captured_frames_decode_to_the_right_records(venue: str) -> None:
    adapter = adapter_for(venue)
    for dc in adapter.decode_cases():
        v = adapter.decode_venue()
        for i, step in enumerate(dc.steps):
            got = v.parse_frame(step.frame, step.received_at)
            where = f"{venue} {dc.name} step {i}"
            assert [type(r) for r in got] == [e.type for e in step.records], f"{where}: {got}"
            for rec, want in zip(got, step.records, strict=True):
                check_record(adapter, rec, step.received_at)
                actual = {k: getattr(rec, k) for k in want.fields}
                assert actual == want.fields, f"{where}: {rec}"


@pytest.mark.parametrize("venue", VENUES)
def test_decode_cases_cover_every_stream_and_bad_frame_kind(venue: str) -> None:
    """An adapter must show every record kind its venue streams, acks both ways,
    a frame with nothing to publish, and the bad frames every venue must refuse."""
    adapter = adapter_for(venue)
    steps = [s for dc in adapter.decode_cases() for s in dc.steps]
    kinds = {e.type for s in steps for e in s.records}
    channels = adapter.venue_cls().config.channels
    wanted = {Candle, Tick, Quote, SubscribeAck} | ({FundingRate} if "funding" in channels else set())
    if adapter.open_interest is not None:
        wanted.add(OpenInterest)
    assert wanted <= kinds, f"{venue}: no decode case yields {wanted - kinds}"
    acks = {e.fields.get("ok", True) for s in steps for e in s.records if e.type is SubscribeAck}
    assert acks == {True, False}, f"{venue}: need an accepted and a refused request"
    assert any(not s.records for s in steps), f"{venue}: need a frame with nothing to publish (an open kline)"
    reasons = {b.reason for b in adapter.bad_frames()}
    assert REQUIRED_BAD_REASONS <= reasons, f"{venue}: no bad frame for {REQUIRED_BAD_REASONS - reasons}"


@pytest.mark.parametrize("venue", VENUES)
def test_bad_frames_raise_with_reason(venue: str) -> None:
    adapter = adapter_for(venue)
    for bad in adapter.bad_frames():
        try:
            got = adapter.decode_venue().parse_frame(bad.frame, 1)
        except RecordError as exc:
            assert exc.reason == bad.reason, f"{venue} {bad.name}: {exc.detail}"
        else:
            pytest.fail(f"{venue} {bad.name}: no RecordError({bad.reason!r}), decoded {got}")


@pytest.mark.parametrize("venue", VENUES)
def test_subscribe_requests_carry_at_most_the_limit(venue: str) -> None:
    adapter = adapter_for(venue)
    v = adapter.venue_cls()
    per_request = v.limits.streams_per_subscribe
    streams = [s for i in range(45) for s in v.streams_for(f"C{i}/USDT")]
    by_key: dict[str, list[str]] = {}
    for s in streams:
        by_key.setdefault(v.url_key(s), []).append(s)
    for group in by_key.values():  # a connection carries the streams of one endpoint
        for op, messages in (("subscribe", v.subscribe_messages(group, 7)),
                             ("unsubscribe", v.unsubscribe_messages(group, 7))):
            requests = [adapter.parse_request(m) for m in messages]
            assert {r.op for r in requests} == {op}, requests
            assert all(0 < len(r.streams) <= per_request for r in requests), [len(r.streams) for r in requests]
            assert Counter(s for r in requests for s in r.streams) == Counter(group)


# ---- live, against the fake --------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
async def test_disconnect_mid_replay_loses_and_duplicates_nothing(started: Any, venue: str) -> None:
    adapter = adapter_for(venue)
    n = 40
    fake = await started(adapter)
    series = listed(adapter, fake, n)
    fake.set_now(next(iter(series.values()))[0].open_time)
    conn, pub = await adapter.start_connector(fake, ["BTC/USDT", "SOL/USDT"])
    connections = len(fake.clients)
    closed_by_15 = 14 if adapter.closes_on_next_window else 15  # without a close flag window 14 is still open
    try:
        await play(fake, series, range(0, 15))
        await pub.wait_for(lambda p: len(p.records[topics.CANDLES_1M]) >= 2 * closed_by_15)
        await fake.drop_all(refuse=True)  # the exchange goes away and refuses reconnects for 10 minutes
        await fake.wait_until(lambda: fake.connections_refused >= 1)
        await play(fake, series, range(15, 25))
        fake.accept()
        await play(fake, series, range(25, n), pause=0.02)
        await adapter.close_window(fake, series, n - 1)

        def complete(p: Any) -> bool:
            return all(len(candles_of(p, s)) >= n for s in ("BTC/USDT", "SOL/USDT"))
        await pub.wait_for(complete, timeout=20)
        await play(fake, series, range(n - 3, n))  # the exchange sends the last minutes again
        await adapter.close_window(fake, series, n - 1)
        await asyncio.sleep(0.2)  # anything late would show up as a duplicate now
    finally:
        await stop_connector(conn)

    for native, rows in series.items():
        symbol = conn.venue.unified_symbol(native)
        got = candles_of(pub, symbol)
        assert [c.open_time for c in got] == [r.open_time for r in rows[:n]], f"{symbol}: missing, duplicate or out of order"
        for c, r in zip(got, rows, strict=False):
            assert (c.exchange, c.market) == (conn.venue.exchange, conn.venue.market)
            assert (c.open, c.high, c.low, c.close) == (r.open, r.high, r.low, r.close), f"{symbol} {c.open_time}"
            assert c.volume == pytest.approx(adapter.volume(r)), f"{symbol} {c.open_time}: websocket and REST volumes agree"
        assert {c.provenance for c in got} == {adapter.ws_provenance, "rest_backfill"}
    assert conn.stats.reconnects >= connections and fake.connections_refused >= 1
    assert conn.stats.backfilled >= 2 * 10
    assert conn.stats.gaps_unfilled == 0 and not pub.records[topics.DEADLETTER]
    ticks = [t for t in pub.decoded(topics.TICKS, Tick) if t.symbol == "BTC/USDT"]
    # each trade once; none while the exchange was away (trades are not backfilled)
    assert 0 < len({t.trade_id for t in ticks}) == len(ticks) <= n - 10 + 3
    assert {t.qty for t in ticks} == {adapter.tick_qty}
    quotes = [q for q in pub.decoded(topics.QUOTES, Quote) if q.symbol == "BTC/USDT"]
    assert quotes and all(q.bid <= q.ask for q in quotes)
    assert {(q.bid_qty, q.ask_qty) for q in quotes} == {adapter.quote_sizes}
    funding = pub.decoded(topics.FUNDING, FundingRate)
    if adapter.funding_rate is None:
        assert not funding
    else:
        for symbol in ("BTC/USDT", "SOL/USDT"):
            rates = [f.funding_rate for f in funding if f.symbol == symbol]
            first = [None] if adapter.first_funding_rate_missing else []
            assert rates == first + [adapter.funding_rate] * (len(rates) - len(first)), f"{symbol}: {rates}"
            assert len(rates) >= 15 * adapter.funding_per_minute, symbol  # every minute before the outage
    ois = pub.decoded(topics.OPEN_INTEREST, OpenInterest)
    if adapter.open_interest is None:
        assert not ois
    else:
        assert ois and {o.open_interest for o in ois} == {adapter.open_interest}
    assert conn.stats.skew.count > 0
    adapter.check_replay(fake, conn, pub)


@pytest.mark.parametrize("venue", VENUES)
async def test_gap_without_disconnect_is_backfilled_in_order(started: Any, venue: str) -> None:
    """Two windows pass without a frame (a close flag lost, or nothing traded): the next close reveals the gap."""
    adapter = adapter_for(venue)
    fake = await started(adapter)
    ((native, rows),) = listed(adapter, fake, 8, ("BTC",)).items()
    fake.set_now(rows[0].open_time)
    conn, pub = await adapter.start_connector(fake, ["BTC/USDT"])
    try:
        await play(fake, {native: rows}, range(0, 3))
        for r in rows[3:5]:  # closes happen, but the websocket never tells us
            fake.add_candles(native, [r])
            fake.set_now(r.close_time + 1)
        await play(fake, {native: rows}, range(5, 8))
        await adapter.close_window(fake, {native: rows}, 7)
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 8)
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert [c.open_time for c in got] == [r.open_time for r in rows[:8]]
    ws = adapter.ws_provenance
    provenance = [c.provenance for c in got]
    assert provenance[:5] == [ws] * 3 + ["rest_backfill"] * 2
    if conn.venue.kline_closes_by_flag:
        assert provenance[5:] == [ws] * 3
    else:  # windows closing while the REST call runs come from whichever source has them first
        assert set(provenance[5:]) <= {ws, "rest_backfill"}
    assert [(c.open, c.high, c.low, c.close) for c in got] == [(r.open, r.high, r.low, r.close) for r in rows[:8]]
    assert [c.volume for c in got] == pytest.approx([adapter.volume(r) for r in rows[:8]])  # REST and WS agree on units
    assert conn.stats.gaps_detected == 1


@pytest.mark.parametrize("venue", VENUES)
async def test_malformed_frames_go_to_deadletter_and_stream_continues(started: Any, venue: str) -> None:
    adapter = adapter_for(venue)
    fake = await started(adapter)
    ((native, rows),) = listed(adapter, fake, 3, ("BTC",)).items()
    fake.set_now(rows[0].open_time)
    conn, pub = await adapter.start_connector(fake, ["BTC/USDT"])
    connections = fake.connections_accepted
    bad = adapter.malformed(fake, native, rows)
    try:
        await play(fake, {native: rows}, range(0, 1))
        for m in bad:
            assert await fake.publish(m.stream, m.frame) == 1, m.stream
        await play(fake, {native: rows}, range(1, 3))
        await adapter.close_window(fake, {native: rows}, 2)
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 3 and len(p.records[topics.DEADLETTER]) >= len(bad))
        await asyncio.sleep(0.05)  # a second dead letter for one frame would show now
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    one_endpoint = len({conn.venue.url_key(m.stream) for m in bad}) == 1
    if one_endpoint:  # one connection: in the order sent
        assert [d.reason for d in dls] == [m.reason for m in bad]
        pairs = list(zip(bad, dls, strict=True))
    else:
        assert sorted(d.reason for d in dls) == sorted(m.reason for m in bad)
        pairs = [(m, next(d for d in dls if d.reason == m.reason)) for m in bad]
    for m, d in pairs:
        if isinstance(m.frame, str):
            assert d.raw == m.frame, m.reason
        else:  # a binary frame survives exactly, base64 in the detail
            assert base64.b64encode(m.frame).decode() in d.detail, m.reason
        assert d.source.startswith(f"connector:{venue}"), d.source
        if m.names_symbol:
            assert "BTC/USDT" in d.detail, d.detail
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in rows[:3]]
    assert fake.connections_accepted == connections  # the connection survived


@pytest.mark.parametrize("venue", VENUES)
async def test_control_topic_change_takes_effect_without_restart(started: Any, venue: str) -> None:
    adapter = adapter_for(venue)
    fake = await started(adapter)
    series = listed(adapter, fake, 4)
    btc, sol = series
    fake.set_now(series[btc][0].open_time)
    conn, pub = await adapter.start_connector(fake, ["BTC/USDT"])
    connections = fake.connections_accepted
    follower = SubscriptionFollower(conn)
    v = conn.venue
    other_market = next(m for m in sorted(MARKETS) if m != v.market)
    try:
        await play(fake, series, range(0, 1))
        assert await follower.apply(*subscription_record(v.exchange, v.market, ["BTC/USDT", "SOL/USDT"]))
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in v.streams_for("SOL/USDT")))
        await play(fake, series, range(1, 2))
        await adapter.close_window(fake, series, 1)
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 1)
        assert await follower.apply(*subscription_record(v.exchange, v.market, ["SOL/USDT"]))
        await fake.wait_until(lambda: not any(fake.subscribers(s) for s in v.streams_for("BTC/USDT")))
        await play(fake, series, range(2, 4))
        await adapter.close_window(fake, {sol: series[sol]}, 3)
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) >= 3)
        # someone else's market and a broken record change nothing here
        assert not await follower.apply(*subscription_record(v.exchange, other_market, ["ETH/USDT"]))
        assert not await follower.apply(f"{v.exchange}:{v.market}".encode(), b'{"symbols": 5}')
    finally:
        await stop_connector(conn)
    # BTC: minutes 0 and 1 closed while subscribed; SOL: from minute 1 on
    assert [c.open_time for c in candles_of(pub, "BTC/USDT")] == [r.open_time for r in series[btc][:2]]
    assert [c.open_time for c in candles_of(pub, "SOL/USDT")] == [r.open_time for r in series[sol][1:4]]
    assert fake.connections_accepted == connections  # the same connections throughout
    requests = [adapter.parse_request(m) for c in fake.all_clients for _, m in c.received]
    unsubscribed = {s for r in requests if r.op == "unsubscribe" for s in r.streams}
    assert unsubscribed == set(v.streams_for("BTC/USDT"))
    assert [d.reason for d in pub.decoded(topics.DEADLETTER, DeadLetter)] == ["malformed_subscription"]


@pytest.mark.parametrize("venue", VENUES)
async def test_stream_and_message_limits_are_respected(started: Any, venue: str) -> None:
    """Streams per connection, streams per request, messages per second: the fake
    enforces each (a violation is recorded and the client dropped)."""
    adapter = adapter_for(venue)
    case = adapter.limits_case()
    cls, limits = case.venue_cls, case.venue_cls.limits
    fake = await started(adapter, **case.fake_kwargs)
    symbols = [f"C{i:02d}/USDT" for i in range(case.symbols)]
    for s in symbols:
        adapter.list_symbol(fake, s.split("/")[0])
    conn, _ = await adapter.start_connector(fake, symbols[:case.first], venue_cls=cls)
    try:
        await conn.set_symbols(symbols)
        wanted = [s for sym in symbols for s in conn.venue.streams_for(sym)]
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted), timeout=30)
        per_stream = [len(fake.subscribers(s)) for s in wanted]
    finally:
        await stop_connector(conn)
    v = conn.venue
    assert fake.violations == [] and getattr(fake, "rejected_requests", []) == []
    assert fake.connections_refused == 0
    assert all(n == 1 for n in per_stream)  # each stream on exactly one connection
    live = list(fake.all_clients)
    assert max(c.max_streams_seen for c in live) <= min(fake.max_streams, limits.streams_per_connection)
    # connections filled up: per endpoint, as many as its streams need
    per_symbol = Counter(v.url_key(s) for s in v.streams_for("C00/USDT"))
    assert len(live) == sum(-(-len(symbols) // (limits.streams_per_connection // k)) for k in per_symbol.values())
    spacing = 1.0 / limits.client_msgs_per_second
    for client in live:
        assert all(v.url_key(s) == adapter.url_key_of(client) for s in client.streams), client.path
        requests = [adapter.parse_request(m) for _, m in client.received]
        assert {r.op for r in requests} <= {"subscribe", "ping"}, requests  # symbols were only added
        subscribed = [s for r in requests if r.op == "subscribe" for s in r.streams]
        assert all(len(r.streams) <= limits.streams_per_subscribe for r in requests)
        assert sorted(subscribed) == sorted(client.streams)  # each stream asked for once
        # messages paced: never more than the fake allows in any 1 s window, and spaced by the
        # venue's pacing interval (which stays under it). The fake timestamps what it reads, and
        # a loaded machine can read two messages late and together: each gap may lose half an
        # interval to that, the whole run at most one interval.
        times = sorted(t for t, _ in client.received)
        gaps = [round(b - a, 4) for a, b in zip(times, times[1:], strict=False)]
        per_second = min(fake.max_rate, limits.client_msgs_per_second + 1)  # + 1: the same read-side bunching
        assert all(sum(1 for u in times if 0 <= u - t < 1.0) <= per_second for t in times)
        assert all(g >= 0.5 * spacing for g in gaps) and sum(gaps) >= (len(gaps) - 1) * spacing, (spacing, gaps)


@pytest.mark.parametrize("venue", VENUES)
async def test_audit_republishes_a_changed_candle_as_correction(started: Any, venue: str) -> None:
    adapter = adapter_for(venue)
    fake = await started(adapter)
    ((native, rows),) = listed(adapter, fake, 5, ("BTC",)).items()
    fake.set_now(rows[0].open_time)
    conn, pub = await adapter.start_connector(fake, ["BTC/USDT"])
    try:
        await play(fake, {native: rows}, range(0, 5))
        await adapter.close_window(fake, {native: rows}, 4)
        await pub.wait_for(lambda p: len(candles_of(p, "BTC/USDT")) >= 5)
        assert await conn.audit_once() == 0  # websocket and REST agree, volumes in the same units
        fixed = dataclasses.replace(rows[3], close=rows[3].close + 1.0, high=max(rows[3].high, rows[3].close + 1.0))
        fake.add_candles(native, [fixed])  # the exchange revised a candle after the fact
        assert await conn.audit_once() == 1
        assert await conn.audit_once() == 0  # once corrected, it agrees
    finally:
        await stop_connector(conn)
    got = candles_of(pub, "BTC/USDT")
    assert len(got) == 6
    corr = got[-1]
    assert (corr.provenance, corr.open_time, corr.close) == ("correction", rows[3].open_time, fixed.close)


def refuses_unlisted(name: str) -> bool:
    try:
        return adapter_for(name).refusal is not None
    except LookupError:  # no adapter yet: collected, so that it fails saying so
        return True


REFUSING = [n for n in VENUES if refuses_unlisted(n)]


@pytest.mark.parametrize("venue", REFUSING)
async def test_refused_subscription_is_dead_lettered(started: Any, venue: str) -> None:
    """A symbol the exchange does not list is refused; we say so and keep the connection."""
    adapter = adapter_for(venue)
    fake = await started(adapter)
    adapter.list_symbol(fake, "BTC")
    conn, pub = await adapter.start_connector(fake, ["BTC/USDT"])
    connections = fake.connections_accepted
    nope = conn.venue.native_id("NOPE/USDT")
    try:
        await conn.set_symbols(["BTC/USDT", "NOPE/USDT"])  # not listed by the exchange
        await pub.wait_for(lambda p: len(p.records[topics.DEADLETTER]) >= adapter.refusals)
        await asyncio.sleep(0.1)  # anything more would show up now
    finally:
        await stop_connector(conn)
    dls = pub.decoded(topics.DEADLETTER, DeadLetter)
    assert [d.reason for d in dls] == ["subscribe_rejected"] * adapter.refusals
    assert all(nope in d.detail and adapter.refusal in d.detail for d in dls), [d.detail for d in dls]
    assert fake.connections_accepted == connections
    assert len(getattr(fake, "rejected_requests", dls)) >= 1  # fakes that keep what they refused did refuse
