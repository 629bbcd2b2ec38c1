"""The sink process: consume, land in the lake, then commit.

``run_sink(settings)`` subscribes group ``scanflow-sink`` to
``md.candles.1m``, ``md.candles``, every ``signals.*`` topic and ``deadletter``
(one regular expression, because a Kafka consumer subscribes to a list *or* a
pattern), and loops:

1. ``getmany`` results are buffered per partition until
   ``settings.sink_batch_rows`` messages are held or ``settings.sink_flush_ms``
   passed (decoding a few large batches is several times cheaper than many
   small ones);
2. then, per partition, one :class:`~sinks.base.SinkBatch` -> ``sink.write``
   (decode, validate, drop duplicate signal ids), and the rejected records are
   published to ``deadletter`` and awaited;
3. ``sink.flush`` (files, then progress markers), then the consumer commits
   the returned offsets.

On every assignment the sink recovers each partition from its progress marker
and the consumer seeks there: the lake, not the group's commit, decides where
reading resumes, so a crash anywhere gives neither loss nor duplicates. The
commit keeps lag visible to Kafka tools; a failed commit is logged and retried
at the next flush (the data is already durable).

Embedded-broker notes (DESIGN.md): no idempotent producer (dead letters use
acks=all without idempotence), a group join waits half the session timeout
(``settings.session_timeout_ms``), and unknown topics auto-create with 4
partitions, so the dead-letter topic is created explicitly before use.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import TopicPartition as KafkaTP

from scanflow.settings import Settings
from sinks.base import Sink, SinkBatch, TopicPartition
from sinks.lake import LakeSink
from streams import topics
from streams.kafka import create_topics, make_producer
from streams.records import DeadLetter, encode

log = logging.getLogger("scanflow.sinks.runner")

GROUP_ID = "scanflow-sink"


def default_pattern(prefix: str = "") -> str:
    """``^(md\\.candles\\.1m|md\\.candles|signals\\..+|deadletter)$`` under ``prefix``."""
    names = "|".join([re.escape(topics.CANDLES_1M), re.escape(topics.CANDLES),
                      re.escape(topics.SIGNALS_PREFIX) + ".+", re.escape(topics.DEADLETTER)])
    return f"^{re.escape(prefix)}({names})$"


@dataclass
class SinkReport:
    """What a run did; returned by :func:`run_sink` when it stops."""

    messages: int = 0
    rows_written: int = 0
    dead_letters_published: int = 0
    flushes: int = 0
    commits_failed: int = 0
    assigned: set[TopicPartition] = field(default_factory=set)
    sink_stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class _Rebalance(ConsumerRebalanceListener):
    """Flush before partitions leave; recover and seek when they arrive."""

    def __init__(self, runner: _SinkLoop) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: Iterable[KafkaTP]) -> None:
        tps = [TopicPartition(tp.topic, tp.partition) for tp in revoked]
        if not tps:
            return
        await self.runner.flush_and_commit(reason="revoke")
        async with self.runner.lock:
            self.runner.sink.revoke(tps)
            self.runner.report.assigned.difference_update(tps)
            for tp in tps:  # their next owner resumes from the lake's markers anyway
                self.runner.uncommitted.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Iterable[KafkaTP]) -> None:
        ktps = list(assigned)
        if not ktps:
            return
        tps = [TopicPartition(tp.topic, tp.partition) for tp in ktps]
        async with self.runner.lock:
            positions = await asyncio.to_thread(self.runner.sink.assign, tps)
            consumer = self.runner.consumer
            for ktp, tp in zip(ktps, tps, strict=True):
                pos = positions.get(tp, "committed")
                if pos is None:
                    await consumer.seek_to_beginning(ktp)
                elif isinstance(pos, int):
                    consumer.seek(ktp, pos)
            self.runner.report.assigned.update(tps)
        log.info("sink assigned %d partitions: %s", len(tps),
                 ", ".join(f"{tp}@{'start' if positions.get(tp) is None else positions.get(tp)}" for tp in tps))


class _SinkLoop:
    def __init__(self, settings: Settings, sink: Sink, consumer: AIOKafkaConsumer, producer: Any,
                 deadletter_topic: str) -> None:
        self.settings = settings
        self.sink = sink
        self.consumer = consumer
        self.producer = producer
        self.deadletter_topic = deadletter_topic
        self.report = SinkReport()
        self.buffered: dict[TopicPartition, list[Any]] = {}
        self.buffered_messages = 0
        self.last_flush = time.monotonic()
        self.uncommitted: dict[TopicPartition, int] = {}
        #: serializes sink calls between the fetch loop and rebalance callbacks
        self.lock = asyncio.Lock()

    async def publish(self, letters: list[DeadLetter]) -> None:
        futures = [await self.producer.send(self.deadletter_topic, value=encode(d), key=d.source.encode())
                   for d in letters]
        for fut in futures:
            await fut  # raises on failure: the source offset is then never committed
        self.report.dead_letters_published += len(letters)

    async def flush_and_commit(self, reason: str) -> None:
        async with self.lock:
            buffered, self.buffered = self.buffered, {}
            self.buffered_messages = 0
            for tp, records in buffered.items():
                if tp not in self.report.assigned:
                    continue  # fetched before a rebalance took the partition away; re-read by its owner
                letters = await asyncio.to_thread(self.sink.write, SinkBatch(tp, records))
                if letters:
                    await self.publish(letters)
            offsets = await asyncio.to_thread(self.sink.flush)
            self.last_flush = time.monotonic()
        if offsets:
            self.report.flushes += 1
        self.uncommitted.update(offsets)
        if not self.uncommitted:
            return
        try:
            await self.consumer.commit({KafkaTP(tp.topic, tp.partition): off for tp, off in self.uncommitted.items()})
            self.uncommitted.clear()
        except (CommitFailedError, KafkaError) as exc:
            # the rows are durable and the lake's markers decide where reading resumes;
            # the commit only feeds lag monitoring, so retry it at the next flush
            self.report.commits_failed += 1
            log.warning("commit after %s flush failed (%s); lake markers are authoritative, retrying later",
                        reason, exc)

    async def run(self, stop_event: asyncio.Event) -> None:
        batch_rows = self.settings.sink_batch_rows
        flush_s = self.settings.sink_flush_ms / 1000
        poll_ms = max(10, min(200, self.settings.sink_flush_ms // 2))
        started = time.monotonic()
        last_log, last_rows = started, 0
        while not stop_event.is_set():
            data = await self.consumer.getmany(timeout_ms=poll_ms, max_records=max(1000, batch_rows // 4))
            async with self.lock:
                for ktp, records in data.items():
                    if not records:
                        continue
                    self.buffered.setdefault(TopicPartition(ktp.topic, ktp.partition), []).extend(records)
                    self.report.messages += len(records)
                    self.buffered_messages += len(records)
            if self.buffered_messages >= batch_rows or (
                    self.buffered_messages and time.monotonic() - self.last_flush >= flush_s):
                await self.flush_and_commit(reason="batch")
            now = time.monotonic()
            if now - last_log >= 10:
                rows = int(self.sink.stats().get("rows_written", 0))
                log.info("sink: %d rows written (%.0f rows/s over %.0fs), %d messages, %d dead letters, stats %s",
                         rows, (rows - last_rows) / (now - last_log), now - last_log, self.report.messages,
                         self.report.dead_letters_published, self.sink.stats())
                last_log, last_rows = now, rows
        await self.flush_and_commit(reason="stop")
        self.report.seconds = time.monotonic() - started


async def run_sink(settings: Settings, topics_pattern: str | None = None, stop_event: asyncio.Event | None = None,
                   *, sink: Sink | None = None, topic_prefix: str = "", group_id: str = GROUP_ID) -> SinkReport:
    """Run the lake sink until ``stop_event`` is set; returns what it did.

    ``topics_pattern`` defaults to :func:`default_pattern` (under
    ``topic_prefix``); ``sink`` defaults to a :class:`LakeSink` on
    ``settings.lake_dir``. Dead letters go to ``<topic_prefix>deadletter``."""
    stop_event = stop_event or asyncio.Event()
    sink = sink or LakeSink(settings.lake_dir, topic_prefix=topic_prefix)
    pattern = topics_pattern or default_pattern(topic_prefix)
    bootstrap = settings.bootstrap
    deadletter_topic = topic_prefix + topics.DEADLETTER
    dl_spec = next(s for s in topics.topic_specs(settings.detectors, settings.partitions) if s.name == topics.DEADLETTER)
    await create_topics(bootstrap, [topics.TopicSpec(deadletter_topic, dl_spec.partitions, dl_spec.key,
                                                     dl_spec.cleanup_policy, dl_spec.content)])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="scanflow-sink",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(1000, settings.session_timeout_ms // 5),
        max_poll_records=max(1000, settings.sink_batch_rows // 4),
        fetch_max_wait_ms=100,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        # a pattern subscription discovers new signals.* topics on metadata refresh
        metadata_max_age_ms=10_000,
    )
    producer = make_producer(bootstrap, client_id="scanflow-sink")
    loop = _SinkLoop(settings, sink, consumer, producer, deadletter_topic)
    consumer.subscribe(pattern=pattern, listener=_Rebalance(loop))
    log.info("sink starting: bootstrap %s, pattern %s, lake %s, group %s", bootstrap, pattern,
             getattr(sink, "lake_dir", "?"), group_id)
    await producer.start()
    try:
        await consumer.start()
        try:
            await loop.run(stop_event)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
    sink.close()
    loop.report.rows_written = int(sink.stats().get("rows_written", 0))
    loop.report.sink_stats = sink.stats()
    log.info("sink stopped after %.1fs: %d messages, %d rows, %d dead letters published",
             loop.report.seconds, loop.report.messages, loop.report.rows_written,
             loop.report.dead_letters_published)
    return loop.report


def main(settings: Settings) -> SinkReport:
    """``scanflow sink``: run until SIGINT/SIGTERM, flushing before exit."""

    async def _run() -> SinkReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run_sink(settings, stop_event=stop)

    return asyncio.run(_run())
