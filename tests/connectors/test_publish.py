"""KafkaPublisher on the embedded broker: keys land in the partition aiokafka's
default partitioner picks, in order per key; stop() delivers what was buffered;
the buffer is bounded (senders wait); a broker outage is retried without loss
or reordering, and a broker that stays away fails the publisher loudly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from connectors.base import KafkaPublisher
from connectors.base.publish import PublishError
from scanflow.brokers.base import free_port
from scanflow.brokers.embedded import EmbeddedBroker
from streams import topics
from streams.kafka import create_topics
from streams.topics import TopicSpec

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def read_all(bootstrap: str, topic: str, want: int, wait_s: float = 30.0) -> list[Any]:
    """Every record of ``topic`` (all partitions, from the beginning), ordered by (partition, offset)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    out: list[Any] = []
    try:
        parts = consumer.partitions_for_topic(topic)
        assert parts, f"{topic} unknown to the broker at {bootstrap}"
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = asyncio.get_running_loop().time() + wait_s
        while len(out) < want and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            out += [r for recs in batches.values() for r in recs]
        batches = await consumer.getmany(timeout_ms=300)  # duplicates would arrive now
        out += [r for recs in batches.values() for r in recs]
    finally:
        await consumer.stop()
    return sorted(out, key=lambda r: (r.partition, r.offset))


def market_keys(n: int) -> list[bytes]:
    return [topics.market_key("binance", "spot", f"S{i:03d}/USDT").encode() for i in range(n)]


def sequences(records: list[Any]) -> dict[bytes, list[int]]:
    """key -> the sequence numbers of its values (``key|seq``), in log order."""
    out: dict[bytes, list[int]] = defaultdict(list)
    for r in records:
        out[r.key].append(int(r.value.rsplit(b"|", 1)[1]))
    return out


def partition_of(records: list[Any]) -> dict[bytes, int]:
    where: dict[bytes, set[int]] = defaultdict(set)
    for r in records:
        where[r.key].add(r.partition)
    split = {k: p for k, p in where.items() if len(p) > 1}
    assert not split, f"keys spread over several partitions: {split}"
    return {k: next(iter(p)) for k, p in where.items()}


async def test_keys_land_where_the_default_partitioner_puts_them(embedded_broker: str, fresh_topics: Any) -> None:
    ours, stock = await fresh_topics(embedded_broker, count=2, partitions=8, prefix="publish")
    keys = market_keys(120)
    pub = KafkaPublisher(embedded_broker)
    producer = AIOKafkaProducer(bootstrap_servers=embedded_broker, acks="all")  # aiokafka's default partitioner
    await pub.start()
    await producer.start()
    try:
        for seq in range(5):
            for k in keys:
                value = k + b"|%d" % seq
                await pub.send(ours, k, value)
                await producer.send(stock, value=value, key=k)
        await pub.flush()
        await producer.flush()
    finally:
        await pub.stop()
        await producer.stop()
    mine, theirs = await read_all(embedded_broker, ours, 600), await read_all(embedded_broker, stock, 600)
    assert partition_of(mine) == partition_of(theirs)
    assert len(set(partition_of(mine).values())) == 8  # spread over every partition: the comparison means something
    assert sequences(mine) == {k: [0, 1, 2, 3, 4] for k in keys}  # each once, in order
    assert pub.stats.records_acked == 600 and pub.stats.batches_acked < 600 / 4  # batched, not one send per record


async def test_stop_delivers_everything_buffered(embedded_broker: str, fresh_topics: Any) -> None:
    (topic,) = await fresh_topics(embedded_broker, partitions=4, prefix="publish")
    keys = market_keys(30)
    pub = KafkaPublisher(embedded_broker)
    await pub.start()
    for seq in range(100):
        for k in keys:
            await pub.send(topic, k, k + b"|%d" % seq)
    assert pub.pending_records > 0  # nothing yielded to the drainers yet: stop() must deliver it all
    await pub.stop()
    with pytest.raises(RuntimeError, match="after stop"):
        await pub.send(topic, keys[0], b"late|0")
    assert sequences(await read_all(embedded_broker, topic, 3000)) == {k: list(range(100)) for k in keys}


async def test_a_full_buffer_makes_senders_wait(embedded_broker: str, fresh_topics: Any) -> None:
    (topic,) = await fresh_topics(embedded_broker, partitions=2, prefix="publish")
    limit = 16_384
    pub = KafkaPublisher(embedded_broker, max_buffer_bytes=limit)
    await pub.start()
    key = market_keys(1)[0]
    record = 0
    peak = 0
    try:
        for seq in range(5000):
            value = key + b"|" + b"x" * 180 + b"|%d" % seq
            record = max(record, len(key) + len(value))
            await pub.send(topic, key, value)
            peak = max(peak, pub.buffered_bytes)
    finally:
        await pub.stop()
    assert pub.stats.backpressure_waits > 0
    assert limit - record <= peak <= limit + record  # the buffer filled up to its bound and never past it
    assert sequences(await read_all(embedded_broker, topic, 5000)) == {key: list(range(5000))}


# ---- a broker of our own, to stop and restart ---------------------------------------
def short_timeouts(bootstrap: str, **kw: Any) -> AIOKafkaProducer:
    """A producer like streams.kafka.make_producer's (acks=all) whose batches
    expire after 1.5 s, so an outage reaches the publisher's own retries quickly."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                            request_timeout_ms=1500, retry_backoff_ms=50, **kw)


def own_broker(directory: Path, port: int) -> EmbeddedBroker:
    broker = EmbeddedBroker(directory, port, die_with=os.getpid())
    broker.start()
    return broker


async def stop_within(pub: KafkaPublisher, seconds: float = 15.0) -> None:
    """Stop a publisher whatever happened before (the test's own assertions report it)."""
    with contextlib.suppress(PublishError, TimeoutError):
        await asyncio.wait_for(pub.stop(), seconds)


async def wait_until(predicate: Any, what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not seen within {timeout}s")
        await asyncio.sleep(0.05)


async def test_a_broker_outage_is_retried_without_loss_or_reordering(tmp_path: Path) -> None:
    port = free_port()
    spec = TopicSpec("publish.outage", 4, "exchange:market:symbol", "delete", "test")
    broker = own_broker(tmp_path / "first", port)
    second: EmbeddedBroker | None = None
    pub = KafkaPublisher(broker.bootstrap, producer_factory=short_timeouts, retry_for_s=30.0)
    keys = market_keys(20)
    try:
        await create_topics(broker.bootstrap, [spec])
        await pub.start()
        await pub.send(spec.name, keys[0], keys[0] + b"|-1")
        await pub.flush()
        broker.stop()  # the broker goes away (and loses everything: it keeps data in memory)
        for seq in range(10):
            for k in keys:
                await pub.send(spec.name, k, k + b"|%d" % seq)
        await wait_until(lambda: pub.stats.retries >= 2, "publisher retries")
        assert pub.stats.records_acked == 1
        second = own_broker(tmp_path / "second", port)  # back on the same address
        await create_topics(second.bootstrap, [spec])
        await asyncio.wait_for(pub.flush(), 60)
        await pub.stop()
        got = await read_all(second.bootstrap, spec.name, 200)
    finally:
        await stop_within(pub)
        broker.stop()
        if second is not None:
            second.stop()
    # (the stats say whether the publisher believed the 200 records delivered: a CI
    # run once read none back from the second broker; not reproduced since)
    assert sequences(got) == {k: list(range(10)) for k in keys}, vars(pub.stats)
    partitioner = DefaultPartitioner()
    assert partition_of(got) == {k: partitioner(k, [0, 1, 2, 3], [0, 1, 2, 3]) for k in keys}


async def test_a_broker_that_stays_away_fails_the_publisher_loudly(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    spec = TopicSpec("publish.gone", 2, "exchange:market:symbol", "delete", "test")
    broker = own_broker(tmp_path / "b", free_port())
    pub = KafkaPublisher(broker.bootstrap, producer_factory=short_timeouts, retry_for_s=1.0)
    key = market_keys(1)[0]
    try:
        await create_topics(broker.bootstrap, [spec])
        await pub.start()
        await pub.send(spec.name, key, key + b"|0")
        await pub.flush()
        broker.stop()
        for seq in range(1, 51):
            await pub.send(spec.name, key, key + b"|%d" % seq)
        with caplog.at_level(logging.ERROR, logger="scanflow.connectors"):
            with pytest.raises(PublishError, match=r"50 record\(s\) for publish\.gone\[\d\] not delivered"):
                await asyncio.wait_for(pub.flush(), 60)
        assert "not delivered" in caplog.text  # logged when it happened, not only raised
        with pytest.raises(PublishError):
            await pub.send(spec.name, key, key + b"|51")  # a failed publisher takes nothing more
        with pytest.raises(PublishError):
            await pub.stop()
    finally:
        await stop_within(pub)
        broker.stop()
    assert pub.stats.retries >= 1 and pub.stats.records_acked == 1
