"""On the embedded broker: a symbol added through control.subscriptions starts
streaming without a restart, and after a forced disconnect md.candles.1m holds
every candle exactly once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.base import CcxtRest, Connector, KafkaPublisher, VenueConfig
from connectors.binance import BinanceSpotVenue
from connectors.control import SubscriptionFollower, subscription_record
from streams import topics
from streams.kafka import create_topics
from streams.records import Candle
from tests.connectors.test_binance_connector import fast_options, play, real_candles

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
