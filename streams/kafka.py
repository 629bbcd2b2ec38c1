"""Kafka plumbing shared by every process: topic creation, producer and consumer
factories, and a readiness wait. aiokafka only (no Faust) so connectors and sinks
stay light.

Embedded-broker facts this module designs around (DESIGN.md): no idempotent
producer (InitProducerId is refused), unknown topics auto-create with 4
partitions (so topics are created explicitly here first), and a consumer group
join waits half the session timeout (keep it at 6-10 s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from streams.topics import TopicSpec

log = logging.getLogger("scanflow.kafka")


class BrokerUnavailable(RuntimeError):
    def __init__(self, bootstrap: str, waited: float, cause: BaseException | None) -> None:
        super().__init__(
            f"no Kafka broker answered at {bootstrap} within {waited:.1f}s "
            f"({cause!r}); start one with `scanflow broker start` or set SCANFLOW_BOOTSTRAP_SERVERS"
        )
        self.bootstrap = bootstrap


async def wait_for_broker(bootstrap: str, timeout: float = 30.0) -> float:
    """Wait until the broker answers a metadata request; returns seconds waited."""
    start = time.monotonic()
    last: BaseException | None = None
    while time.monotonic() - start < timeout:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return time.monotonic() - start
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.2)
        finally:
            try:
                await admin.close()
            except (KafkaError, OSError) as exc:  # closing a never-connected client
                last = last or exc
    raise BrokerUnavailable(bootstrap, time.monotonic() - start, last)


async def create_topics(bootstrap: str, specs: Iterable[TopicSpec], timeout: float = 30.0) -> dict[str, str]:
    """Create the topics that do not exist yet. Idempotent: returns
    ``{topic: "created" | "exists" | "exists (N partitions, wanted M)"}``."""
    await wait_for_broker(bootstrap, timeout)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    result: dict[str, str] = {}
    try:
        existing = set(await admin.list_topics())
        want = list(specs)
        missing = [s for s in want if s.name not in existing]
        for s in want:
            if s.name in existing:
                result[s.name] = "exists"
        if missing:
            new = []
            for s in missing:
                configs = {"cleanup.policy": s.cleanup_policy}
                if s.retention_ms is not None:
                    configs["retention.ms"] = str(s.retention_ms)
                new.append(NewTopic(s.name, s.partitions, 1, topic_configs=configs))
            try:
                resp = await admin.create_topics(new, timeout_ms=int(timeout * 1000))
                errors = {t[0]: t[1] for t in getattr(resp, "topic_errors", []) or []}
                for s in missing:
                    code = errors.get(s.name, 0)
                    # 36 = TOPIC_ALREADY_EXISTS (a racing creator); anything else is real
                    if code not in (0, 36):
                        raise RuntimeError(f"creating topic {s.name} failed with Kafka error code {code}")
                    result[s.name] = "created" if code == 0 else "exists"
            except TopicAlreadyExistsError:
                for s in missing:
                    result.setdefault(s.name, "exists")
        # report partition mismatches of pre-existing topics
        if any(v == "exists" for v in result.values()):
            meta = await admin.describe_topics([n for n, v in result.items() if v == "exists"])
            by_name = {m["topic"]: len(m.get("partitions", [])) for m in meta}
            for s in want:
                n = by_name.get(s.name)
                if n is not None and n != s.partitions:
                    result[s.name] = f"exists ({n} partitions, wanted {s.partitions})"
    finally:
        await admin.close()
    return result


def make_producer(bootstrap: str, *, linger_ms: int = 5, max_batch_size: int = 262_144,
                  client_id: str = "scanflow") -> AIOKafkaProducer:
    """A producer safe on both brokers: acks=all, no idempotence (the embedded
    broker refuses InitProducerId), Kafka's murmur2 key partitioner."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=linger_ms,
        max_batch_size=max_batch_size,
        request_timeout_ms=30_000,
    )


def make_consumer(bootstrap: str, *topics: str, group_id: str | None, session_timeout_ms: int = 10_000,
                  auto_offset_reset: str = "earliest", client_id: str = "scanflow",
                  max_poll_records: int = 5000) -> AIOKafkaConsumer:
    """A consumer with manual commits (commit after the work is durable)."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        client_id=client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(1000, session_timeout_ms // 5),
        max_poll_records=max_poll_records,
        fetch_max_wait_ms=100,
    )


__all__ = ["BrokerUnavailable", "KafkaConnectionError", "create_topics", "make_consumer",
           "make_producer", "wait_for_broker"]
