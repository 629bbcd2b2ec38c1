"""On the embedded broker: a symbol added through control.subscriptions starts
streaming without a restart, and after a forced disconnect md.candles.1m holds
every candle exactly once; trades reach md.ticks once each, in order, one
partition per symbol; a broker that stops taking records ends Connector.run
with PublishError instead of leaving a connector that drops what it reads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from connectors.base import CcxtRest, Connector, KafkaPublisher, VenueConfig
from connectors.base.publish import PublishError
from connectors.binance import BinanceSpotVenue
from connectors.control import SubscriptionFollower, subscription_record
from scanflow.brokers.base import free_port
from scanflow.brokers.embedded import EmbeddedBroker
from streams import topics
from streams.kafka import create_topics
from streams.records import Candle, Tick
from tests.connectors.test_binance_connector import fast_options, play, real_candles
from tests.connectors.test_publish import short_timeouts, stop_within

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def read_candles(bootstrap: str, keys: set[bytes], want: int, wait_s: float = 30.0) -> list[Candle]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    dec = msgspec.json.Decoder(Candle)
    out: list[Candle] = []
    try:
        parts = consumer.partitions_for_topic(topics.CANDLES_1M) or set()
        tps = [TopicPartition(topics.CANDLES_1M, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = asyncio.get_running_loop().time() + wait_s
        while len(out) < want and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            out += [dec.decode(r.value) for recs in batches.values() for r in recs if r.key in keys]
        # a little longer: duplicates would arrive now
        batches = await consumer.getmany(timeout_ms=500)
        out += [dec.decode(r.value) for recs in batches.values() for r in recs if r.key in keys]
    finally:
        await consumer.stop()
    return out


async def test_control_topic_and_disconnect_on_broker(embedded_broker: str, fake_binance: Any) -> None:
    bootstrap = embedded_broker
    await create_topics(bootstrap, topics.topic_specs())
    tag = uuid.uuid4().hex[:6].upper()
    a, b = f"A{tag}", f"B{tag}"  # unique bases: the session broker is shared
    series = real_candles(20)
    series = {f"{a}USDT": series["BTCUSDT"], f"{b}USDT": series["SOLUSDT"]}
    fake = await fake_binance("spot")
    fake.list_symbol(a, "USDT")
    fake.list_symbol(b, "USDT")
    fake.set_now(series[f"{a}USDT"][0].open_time)
    venue = BinanceSpotVenue(VenueConfig(fake.ws_url, fake.rest_url))
    rest = CcxtRest(venue)
    await rest.load_markets()
    pub = KafkaPublisher(bootstrap)
    await pub.start()
    conn = Connector(venue, pub, rest, [f"{a}/USDT"], options=fast_options(), clock=fake.now_ms)
    await conn.start()
    follower = asyncio.create_task(SubscriptionFollower(conn).run(bootstrap, poll_ms=100))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for(f"{a}/USDT")))
        key, value = subscription_record("binance", "spot", [f"{a}/USDT", f"{b}/USDT"])
        await producer.send_and_wait(topics.SUBSCRIPTIONS, value, key=key)
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for(f"{b}/USDT")), timeout=20)
        await play(fake, series, range(0, 8))
        await fake.drop_all(refuse=True)
        await play(fake, series, range(8, 13))
        fake.accept()
        await play(fake, series, range(13, 20), pause=0.03)
        keys = {f"binance:spot:{a}/USDT".encode(), f"binance:spot:{b}/USDT".encode()}
        got = await read_candles(bootstrap, keys, want=40)
    finally:
        follower.cancel()
        await conn.stop()
        await pub.stop()
        await producer.stop()
        await rest.close()
    for native, rows in series.items():
        sym = native[:-4] + "/USDT"
        mine = [c for c in got if c.symbol == sym]
        assert [c.open_time for c in mine] == [r.open_time for r in rows], sym
    assert conn.stats.reconnects >= 1 and conn.stats.subscription_changes == 2
    assert fake.connections_accepted == 2  # the control change reused the live connection


async def test_trades_reach_the_broker_once_in_order_one_partition_per_symbol(embedded_broker: str,
                                                                               fake_binance: Any) -> None:
    bootstrap = embedded_broker
    await create_topics(bootstrap, topics.topic_specs())
    tag = uuid.uuid4().hex[:6].upper()
    bases = [f"T{i}{tag}" for i in range(6)]
    fake = await fake_binance("spot")
    natives = [fake.list_symbol(b, "USDT") for b in bases]
    venue = BinanceSpotVenue(VenueConfig(fake.ws_url, fake.rest_url, channels=("trades",)))
    rest = CcxtRest(venue)
    await rest.load_markets()
    pub = KafkaPublisher(bootstrap)
    await pub.start()
    conn = Connector(venue, pub, rest, [f"{b}/USDT" for b in bases], options=fast_options(), clock=fake.now_ms)
    await conn.start()
    sent: dict[str, list[str]] = defaultdict(list)
    try:
        await fake.wait_until(lambda: all(fake.subscribers(s) for b in bases for s in venue.streams_for(f"{b}/USDT")))
        for i in range(200):
            for b, native in zip(bases, natives, strict=True):
                stream, payload = fake.trade_payload(native, 100.0 + i, 0.5, 1_700_000_000_000 + i, i % 2 == 0)
                sent[f"{b}/USDT"].append(str(payload["t"]))
                await fake.publish(stream, payload)
        await fake.wait_until(lambda: conn.stats.ticks >= 1200, timeout=30)
    finally:
        await conn.stop()
        await pub.stop()
        await rest.close()
    keys = {topics.market_key("binance", "spot", s).encode(): s for s in sent}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    got: dict[str, list[str]] = defaultdict(list)
    where: dict[str, set[int]] = defaultdict(set)
    dec = msgspec.json.Decoder(Tick)
    try:
        parts = sorted(consumer.partitions_for_topic(topics.TICKS) or set())
        tps = [TopicPartition(topics.TICKS, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = asyncio.get_running_loop().time() + 30
        while sum(map(len, got.values())) < 1200 and asyncio.get_running_loop().time() < deadline:
            for tp, recs in (await consumer.getmany(timeout_ms=300)).items():
                for r in recs:
                    if r.key in keys:
                        got[keys[r.key]].append(dec.decode(r.value).trade_id)
                        where[keys[r.key]].add(tp.partition)
    finally:
        await consumer.stop()
    assert dict(got) == dict(sent)  # every trade once, in the order the exchange sent it
    partitioner = DefaultPartitioner()
    assert {s: sorted(p) for s, p in where.items()} == {
        s: [partitioner(k, parts, parts)] for k, s in keys.items()}


async def test_a_broker_that_stops_taking_records_ends_the_connector_run(tmp_path: Path, fake_binance: Any) -> None:
    broker = EmbeddedBroker(tmp_path / "broker", free_port(), die_with=os.getpid())
    broker.start()
    fake = await fake_binance("spot")
    native = fake.list_symbol("GONE", "USDT")
    venue = BinanceSpotVenue(VenueConfig(fake.ws_url, fake.rest_url, channels=("trades",)))
    rest = CcxtRest(venue)
    pub = KafkaPublisher(broker.bootstrap, producer_factory=short_timeouts, retry_for_s=1.0)
    conn = Connector(venue, pub, rest, ["GONE/USDT"], options=fast_options(), clock=fake.now_ms)
    try:
        await create_topics(broker.bootstrap, topics.topic_specs())
        await rest.load_markets()
        await pub.start()
        run = asyncio.create_task(conn.run())
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for("GONE/USDT")))
        await fake.publish(*fake.trade_payload(native, 1.0, 1.0, 1_700_000_000_000, True))
        await fake.wait_until(lambda: pub.stats.records_acked == 1)
        broker.stop()
        for i in range(600):  # the exchange keeps sending; the connector must not keep swallowing
            if run.done():
                break
            await fake.publish(*fake.trade_payload(native, 1.0, 1.0, 1_700_000_000_001 + i, True))
            await asyncio.sleep(0.05)
        with pytest.raises(PublishError, match="not delivered"):
            await asyncio.wait_for(run, 5)
        assert isinstance(conn.failure, PublishError)
        with pytest.raises(PublishError):
            await conn.stop()  # its final flush reports the same failure
    finally:
        with contextlib.suppress(PublishError):
            await conn.stop()
        await stop_within(pub)
        await rest.close()
        broker.stop()


async def test_scanflow_connect_exits_non_zero_when_the_broker_stops_taking_records(
        tmp_path: Path, fake_binance: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """What `scanflow connect` runs: a failed publisher ends the command with exit
    code 1 (and says why) instead of leaving a process that idles forever."""
    import connectors.base
    from connectors.cli import _connect

    made: list[KafkaPublisher] = []

    class QuickToGiveUp(KafkaPublisher):  # the real publisher, with short timeouts
        def __init__(self, bootstrap: str, **kw: Any) -> None:
            super().__init__(bootstrap, producer_factory=short_timeouts, retry_for_s=1.0)
            made.append(self)

    monkeypatch.setattr(connectors.base, "KafkaPublisher", QuickToGiveUp)
    broker = EmbeddedBroker(tmp_path / "broker", free_port(), die_with=os.getpid())
    broker.start()
    fake = await fake_binance("spot")
    native = fake.list_symbol("GONE", "USDT")
    venue = BinanceSpotVenue(VenueConfig(fake.ws_url, fake.rest_url, channels=("trades",)))
    cmd = asyncio.create_task(_connect(venue, broker.bootstrap, top=0, quote="USDT", min_quote_volume=0.0,
                                       symbols=["GONE/USDT"], allow=[], deny=[], follow_control=False,
                                       audit_interval=0.0, stats_interval=60.0))
    try:
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in venue.streams_for("GONE/USDT")), timeout=60)
        await fake.publish(*fake.trade_payload(native, 1.0, 1.0, 1_700_000_000_000, True))
        await fake.wait_until(lambda: made and made[0].stats.records_acked == 1)
        broker.stop()
        with caplog.at_level(logging.ERROR, logger="scanflow"):
            for i in range(600):
                if cmd.done():
                    break
                await fake.publish(*fake.trade_payload(native, 1.0, 1.0, 1_700_000_000_001 + i, True))
                await asyncio.sleep(0.05)
            assert await asyncio.wait_for(cmd, 30) == 1  # the command's exit code
        assert "connector failed" in caplog.text and "not delivered" in caplog.text
    finally:
        if not cmd.done():
            cmd.cancel()
            with contextlib.suppress(BaseException):
                await cmd
        broker.stop()
