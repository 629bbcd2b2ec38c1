"""Where records go: Kafka in production, memory in tests and benchmarks.

A :class:`Publisher` takes already-encoded bytes; the connector encodes once.
``KafkaPublisher`` uses ``streams.kafka.make_producer`` (the project's one
place for producer settings).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, Protocol

import msgspec


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue one record; may wait when the producer's buffer is full."""

    async def flush(self) -> None: ...

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


class KafkaPublisher:
    """A producer from ``streams.kafka.make_producer``; ``linger_ms`` batches a
    burst of closes into few requests."""

    def __init__(self, bootstrap: str, *, linger_ms: int = 5, client_id: str = "scanflow-connector") -> None:
        self.bootstrap = bootstrap
        self.linger_ms = linger_ms
        self.client_id = client_id
        self._producer: Any = None

    async def start(self) -> None:
        from streams.kafka import make_producer

        producer = make_producer(self.bootstrap, linger_ms=self.linger_ms, client_id=self.client_id)
        await producer.start()
        self._producer = producer

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        if self._producer is None:
            raise RuntimeError(f"KafkaPublisher for {self.bootstrap}: send to {topic} before start()")
        await self._producer.send(topic, value=value, key=key)

    async def flush(self) -> None:
        if self._producer is not None:
            await self._producer.flush()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
