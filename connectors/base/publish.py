"""Where records go: Kafka in production, memory in tests and benchmarks.

A :class:`Publisher` takes already-encoded bytes; the connector encodes once.
``KafkaPublisher`` uses ``streams.kafka.make_producer`` (the project's one
place for producer settings) and batches per partition (see its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

log = logging.getLogger("scanflow.connectors")


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue one record; may wait when the buffer is full (backpressure)."""

    async def flush(self) -> None:
        """Return when every record sent so far is delivered."""

    async def stop(self) -> None: ...


class MemoryPublisher:
    """Keeps every record per topic, in order; ``wait_for`` lets tests await arrivals."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[bytes, bytes]]] = defaultdict(list)
        self._changed = asyncio.Event()

    async def start(self) -> None:
        return None

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.records[topic].append((key, value))
        self._changed.set()

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def decoded(self, topic: str, record_type: type[msgspec.Struct]) -> list[Any]:
        dec = msgspec.json.Decoder(record_type)
        return [dec.decode(v) for _, v in self.records.get(topic, [])]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - test helper; the message names the condition
        """Wait until ``predicate(self)`` is true; TimeoutError names what was awaited."""
        async def _loop() -> None:
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
        try:
            await asyncio.wait_for(_loop(), timeout)
        except TimeoutError:
            counts = {t: len(r) for t, r in self.records.items()}
            raise TimeoutError(f"condition {getattr(predicate, '__name__', predicate)} not met in {timeout}s; records per topic: {counts}") from None


class PublishError(RuntimeError):
    """Records could not be delivered to Kafka. Once raised, the publisher is
    failed: every later ``send``, ``flush`` and ``stop`` raises it again."""


@dataclass
class PublisherStats:
    records_acked: int = 0
    batches_acked: int = 0
    retries: int = 0  # batches resubmitted after a retriable failure
    backpressure_waits: int = 0  # sends that waited for the buffer to drain


class _Batch:
    __slots__ = ("builder", "records", "nbytes")

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.records = 0
        self.nbytes = 0


class _PartitionQueue:
    """Records for one (topic, partition): an open batch being filled, full
    batches waiting, and at most one drainer task delivering them in order."""

    __slots__ = ("topic", "partition", "open", "full", "drainer", "appended", "acked")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.open: _Batch | None = None
        self.full: deque[_Batch] = deque()
        self.drainer: asyncio.Task[None] | None = None
        self.appended = 0
        self.acked = 0

    def pending_records(self) -> int:
        return self.appended - self.acked


def _retriable(exc: BaseException) -> bool:
    from aiokafka.errors import KafkaError, KafkaTimeoutError

    return isinstance(exc, KafkaTimeoutError) or (isinstance(exc, KafkaError) and bool(exc.retriable))


class KafkaPublisher:
    """Batches records per (topic, partition) and hands whole batches to
    aiokafka (``create_batch`` / ``send_batch``) instead of one ``send`` and one
    future per record.

    * ``send`` appends to the open batch of the record's partition and returns
      at once; it waits only when ``max_buffer_bytes`` of records are not yet
      acknowledged (backpressure: memory stays bounded while the broker is
      slow or away).
    * The partition of a key is the one aiokafka's default partitioner picks
      (murmur2 of the key over the topic's partitions, like the Java client),
      computed once per key: records of one symbol stay in one partition.
    * One drainer task per partition delivers batches one at a time, in the
      order they were filled, so a retried batch can never overtake a later
      one. A batch waits ``linger_ms`` after the partition's first record (0:
      until the current burst of frames yields to the event loop); while one
      is in flight the next one fills, so batches grow with the load.
    * Delivery keeps the producer's guarantees (``acks=all``, from
      ``streams.kafka.make_producer``). A batch failing with a retriable error
      (after aiokafka's own retries) is resubmitted with backoff for up to
      ``retry_for_s``; a non-retriable error or an exhausted retry window
      fails the publisher with :class:`PublishError`, logged and raised by
      every later ``send``/``flush``/``stop``: nothing is dropped silently.
      Delivery is at-least-once: a resubmitted batch the broker had written
      before its acknowledgement was lost appears twice (consumers drop
      duplicates by key and open time, DESIGN.md).
    * ``flush`` returns when every record sent before it is acknowledged;
      ``stop`` flushes, then closes the producer.

    ``producer_factory(bootstrap, client_id=...)`` builds the aiokafka producer
    (default ``make_producer``; tests pass one with short timeouts).
    """

    def __init__(self, bootstrap: str, *, linger_ms: float = 0.0, max_buffer_bytes: int = 8 * 2**20,
                 retry_for_s: float = 300.0, client_id: str = "scanflow-connector",
                 producer_factory: Callable[..., Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.linger_ms = linger_ms
        self.max_buffer_bytes = max_buffer_bytes
        self.retry_for_s = retry_for_s
        self.client_id = client_id
        self.stats = PublisherStats()
        self._producer_factory = producer_factory
        self._producer: Any = None
        self._partitioner: Any = None
        self._partitions: dict[str, list[int]] = {}
        self._routes: dict[str, dict[bytes | None, _PartitionQueue]] = {}
        self._queues: dict[tuple[str, int], _PartitionQueue] = {}
        self._buffered = 0
        self._error: PublishError | None = None
        self._space = asyncio.Event()
        self._acked = asyncio.Event()

    @property
    def buffered_bytes(self) -> int:
        """Key + value bytes sent but not yet acknowledged by the broker."""
        return self._buffered

    @property
    def pending_records(self) -> int:
        return sum(q.pending_records() for q in self._queues.values())

    async def start(self) -> None:
        from aiokafka.partitioner import DefaultPartitioner

        from streams.kafka import make_producer

        factory = self._producer_factory or make_producer
        producer = factory(self.bootstrap, client_id=self.client_id)
        await producer.start()
        self._producer = producer
        self._partitioner = DefaultPartitioner()

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._buffered >= self.max_buffer_bytes:
            await self._wait_for_space()
        route = self._routes.get(topic)
        if route is None:
            route = await self._load_topic(topic)
        q = route.get(key)
        if q is None:
            q = self._assign(topic, route, key)
        batch = q.open
        if batch is None:
            batch = q.open = _Batch(self._producer.create_batch())
        if batch.builder.append(timestamp=None, key=key, value=value) is None:  # batch full
            q.full.append(batch)
            batch = q.open = _Batch(self._producer.create_batch())
            if batch.builder.append(timestamp=None, key=key, value=value) is None:
                raise PublishError(f"{topic}: a record of {len(value)} bytes does not fit an empty batch")
        size = len(value) + (len(key) if key is not None else 0)
        batch.records += 1
        batch.nbytes += size
        q.appended += 1
        self._buffered += size
        if q.drainer is None:
            q.drainer = asyncio.create_task(self._drain(q), name=f"publish:{topic}[{q.partition}]")

    async def flush(self) -> None:
        """Wait until every record sent so far is acknowledged (or raise PublishError)."""
        targets = [(q, q.appended) for q in self._queues.values() if q.acked < q.appended]
        while self._error is None and any(q.acked < n for q, n in targets):
            self._acked.clear()
            await self._acked.wait()
        if self._error is not None:
            raise self._error

    async def stop(self) -> None:
        producer = self._producer
        if producer is None:
            return
        try:
            await self.flush()
        finally:
            drainers = [q.drainer for q in self._queues.values() if q.drainer is not None]
            for task in drainers:
                task.cancel()
            for task in drainers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._producer = None
            self._routes.clear()  # a later send meets _load_topic, which refuses it
            await producer.stop()

    # ---- internals ---------------------------------------------------------
    async def _wait_for_space(self) -> None:
        self.stats.backpressure_waits += 1
        while self._buffered >= self.max_buffer_bytes and self._error is None:
            self._space.clear()
            await self._space.wait()
        if self._error is not None:
            raise self._error

    async def _load_topic(self, topic: str) -> dict[bytes | None, _PartitionQueue]:
        if self._producer is None:
            raise RuntimeError(f"KafkaPublisher for {self.bootstrap}: send to {topic} before start() or after stop()")
        self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return self._routes.setdefault(topic, {})

    def _assign(self, topic: str, route: dict[bytes | None, _PartitionQueue], key: bytes | None) -> _PartitionQueue:
        parts = self._partitions[topic]
        partition = self._partitioner(key, parts, parts)
        q = self._queues.get((topic, partition))
        if q is None:
            q = self._queues[(topic, partition)] = _PartitionQueue(topic, partition)
        if key is not None:  # a key-less record goes to a random partition each time
            route[key] = q
        return q

    async def _check_partitions(self, topic: str) -> None:
        """If the topic gained partitions, keys are routed afresh (as the default
        partitioner would from now on); batches already filled keep their partition."""
        parts = await self._producer.partitions_for(topic)
        if len(parts) != len(self._partitions.get(topic, ())):
            log.warning("%s: partitions of %s changed to %d; re-routing keys", self.bootstrap, topic, len(parts))
            self._partitions[topic] = sorted(parts)
            self._routes[topic] = {}

    async def _drain(self, q: _PartitionQueue) -> None:
        try:
            if self.linger_ms:
                await asyncio.sleep(self.linger_ms / 1000)
            while self._error is None:
                if q.full:
                    batch = q.full.popleft()
                elif q.open is not None:
                    batch, q.open = q.open, None
                else:
                    return
                await self._deliver(q, batch)
        finally:
            q.drainer = None

    async def _deliver(self, q: _PartitionQueue, batch: _Batch) -> None:
        batch.builder.close()  # closed: aiokafka sends it at once, adds nothing to it
        first_failure: float | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._check_partitions(q.topic)
                delivered = await self._producer.send_batch(batch.builder, q.topic, partition=q.partition)
                await delivered
                break
            except Exception as exc:  # every failure is retried or fails the publisher loudly
                now = time.monotonic()
                first_failure = first_failure if first_failure is not None else now
                waited = now - first_failure
                if _retriable(exc) and waited < self.retry_for_s:
                    delay = min(5.0, 0.1 * 2 ** (attempt - 1))
                    self.stats.retries += 1
                    log.warning("%s: %d record(s) for %s[%d] failed (%s: %s); retry %d in %.1fs",
                                self.bootstrap, batch.records, q.topic, q.partition, type(exc).__name__, exc,
                                attempt, delay)
                    await asyncio.sleep(delay)
                    continue
                self._fail(q, batch, attempt, waited, exc)
                return
        q.acked += batch.records
        self._buffered -= batch.nbytes
        self.stats.records_acked += batch.records
        self.stats.batches_acked += 1
        self._acked.set()
        if self._buffered < self.max_buffer_bytes:
            self._space.set()

    def _fail(self, q: _PartitionQueue, batch: _Batch, attempts: int, waited: float, exc: BaseException) -> None:
        undelivered = self.pending_records
        err = PublishError(
            f"{self.bootstrap}: {batch.records} record(s) for {q.topic}[{q.partition}] not delivered after "
            f"{attempts} attempt(s) over {waited:.1f}s: {type(exc).__name__}: {exc}; "
            f"{undelivered} record(s) undelivered in all")
        err.__cause__ = exc
        log.error("%s", err)
        self._error = err
        self._space.set()
        self._acked.set()
