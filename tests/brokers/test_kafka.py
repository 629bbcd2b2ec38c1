"""Apache Kafka (KRaft): configuration, prerequisites, lifecycle with restart durability, and round trips."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from scanflow.brokers import kafka
from scanflow.brokers.base import BrokerError, free_port, pid_alive

# -- unit: no JVM ---------------------------------------------------------------------------


@pytest.mark.unit
def test_server_properties_are_kraft_single_node_on_loopback(tmp_path: Path) -> None:
    broker = kafka.KafkaBroker(tmp_path, 41000, properties={"num.partitions": "3"})
    props = broker.server_properties()
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:41001"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:41000,CONTROLLER://127.0.0.1:41001"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:41000"
    assert props["log.dirs"] == str(tmp_path.absolute() / "kafka-logs")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "3", "caller properties override the defaults"
    assert broker.required_ports() == [41000, 41001]


@pytest.mark.unit
def test_controller_port_must_differ(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="controller port"):
        kafka.KafkaBroker(tmp_path, 41000, controller_port=41000)


@pytest.mark.unit
def test_cluster_id_is_kafka_shaped_and_kept(tmp_path: Path) -> None:
    ids = {kafka.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cid) for cid in ids)
    broker = kafka.KafkaBroker(tmp_path, 41000)
    first = broker.cluster_id()
    assert kafka.KafkaBroker(tmp_path, 42000).cluster_id() == first


@pytest.mark.unit
def test_missing_java_is_named_with_java_17(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    reason = kafka.missing_prerequisites()
    assert reason is not None and "Java 17" in reason


@pytest.mark.unit
def test_no_jars_and_no_maven_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kafka, "check_java", lambda: Path("/usr/bin/java"))  # Java is fine here
    monkeypatch.setenv("PATH", "")  # but no mvn
    monkeypatch.setenv(kafka.KAFKA_HOME_ENV, str(tmp_path / "empty-cache"))
    reason = kafka.missing_prerequisites()
    assert reason is not None and "mvn" in reason and "Maven" in reason
    with pytest.raises(BrokerError, match="no `mvn` on PATH"):
        kafka.ensure_kafka_jars()
    assert not kafka.kafka_libs_dir().exists()


@pytest.mark.unit
def test_partial_fetch_is_not_taken_for_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(kafka.KAFKA_HOME_ENV, str(tmp_path))
    libs = kafka.kafka_libs_dir()
    libs.mkdir(parents=True)
    (libs / f"kafka_2.13-{kafka.KAFKA_VERSION}.jar").write_bytes(b"")
    assert kafka.jars_present() is False, "no completion marker: fetch was interrupted"


@pytest.mark.unit
def test_pom_pins_the_same_version_as_the_launcher() -> None:
    pom = kafka.kafka_pom().read_text()
    assert f"<kafka.version>{kafka.KAFKA_VERSION}</kafka.version>" in pom
    assert "<artifactId>kafka_2.13</artifactId>" in pom


# -- kafka: a real JVM ----------------------------------------------------------------------


def _kafka_or_skip() -> None:
    missing = kafka.missing_prerequisites()
    if missing and not os.environ.get("CI"):
        pytest.skip(f"Apache Kafka unavailable here (CI unset, so skipping): {missing}")


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for v in values:
            await producer.send_and_wait(topic, v, key=b"k")
    finally:
        await producer.stop()


async def _consume(
    bootstrap: str, topic: str, n: int, isolation: str = "read_uncommitted"
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation,
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(got) < n:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got += [r.value for r in records]
    finally:
        await consumer.stop()
    return got


@pytest.mark.kafka
async def test_lifecycle_idempotent_start_restart_keeps_data_and_stop_kills_group(
    tmp_path: Path, fresh_topics
) -> None:
    _kafka_or_skip()
    port = free_port(consecutive=2)
    broker = kafka.KafkaBroker(tmp_path / "kafka", port)
    first = broker.start()
    pid = first.status.pid
    try:
        assert first.already_running is False and first.status.answering
        assert pid is not None and pid_alive(pid)
        assert json.loads(broker.pid_file.read_text())["port"] == port
        assert "Kafka Server started" in broker.log_file.read_text()

        again = broker.start()
        assert again.already_running and again.status.pid == pid

        (topic,) = await fresh_topics(broker.bootstrap, prefix="brokers.kafka.durable")
        await _produce(broker.bootstrap, topic, [b"before-restart"])
    finally:
        before = broker.stop()
    assert before.pid == pid
    assert not pid_alive(pid)
    assert not broker.pid_file.exists()
    assert broker.status().running is False

    # Same directory, same cluster id: the formatted storage is reused and data survives.
    restarted = broker.start()
    try:
        assert restarted.already_running is False and restarted.status.pid != pid
        assert await _consume(broker.bootstrap, topic, 1) == [b"before-restart"]
    finally:
        second = broker.stop()
    assert second.pid is not None and not pid_alive(second.pid)


async def test_produce_consume_and_transactions(kafka_broker: str, fresh_topics) -> None:
    (topic,) = await fresh_topics(kafka_broker, partitions=3, prefix="brokers.kafka.rt")
    await _produce(kafka_broker, topic, [f"v{i}".encode() for i in range(5)])
    assert await _consume(kafka_broker, topic, 5) == [f"v{i}".encode() for i in range(5)]

    # Transactions work (single-node transaction log settings): aborted records stay invisible.
    (tx_topic,) = await fresh_topics(kafka_broker, prefix="brokers.kafka.tx")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_broker, transactional_id="scanflow-broker-test"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(tx_topic, b"committed")
        await producer.begin_transaction()
        await producer.send_and_wait(tx_topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(tx_topic, b"committed-2")
    finally:
        await producer.stop()
    assert await _consume(kafka_broker, tx_topic, 2, isolation="read_committed") == [
        b"committed",
        b"committed-2",
    ]
