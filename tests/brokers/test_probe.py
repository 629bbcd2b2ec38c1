"""The Metadata readiness probe against tiny loopback servers speaking (or not) the Kafka wire format."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from scanflow.brokers import probe

pytestmark = pytest.mark.unit


def _kafka_string(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _metadata_v1_response(
    correlation_id: int, brokers: list[tuple[int, str, int]], controller: int
) -> bytes:
    body = struct.pack(">i", correlation_id) + struct.pack(">i", len(brokers))
    for node_id, host, port in brokers:
        body += (
            struct.pack(">i", node_id)
            + _kafka_string(host)
            + struct.pack(">i", port)
            + _kafka_string(None)
        )
    body += struct.pack(">i", controller) + struct.pack(">i", 0)  # no topics
    return struct.pack(">i", len(body)) + body


def _serve_once(reply: Callable[[bytes], bytes | None]) -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    seen: list[bytes] = []

    def run() -> None:
        conn, _ = server.accept()
        with conn:
            size = struct.unpack(">i", conn.recv(4))[0]
            request = b""
            while len(request) < size:
                request += conn.recv(size - len(request))
            seen.append(request)
            answer = reply(request)
            if answer is not None:
                conn.sendall(answer)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield port
    finally:
        t.join(timeout=5)
        server.close()


@pytest.fixture
def kafka_like() -> Iterator[int]:
    def reply(request: bytes) -> bytes:
        api_key, version, correlation_id = struct.unpack(">hhi", request[:8])
        assert (api_key, version) == (3, 1), "probe must send Metadata v1"
        return _metadata_v1_response(correlation_id, [(1, "127.0.0.1", 4242)], controller=1)

    yield from _serve_once(reply)


def test_metadata_parses_brokers_and_controller(kafka_like: int) -> None:
    answer = probe.metadata("127.0.0.1", kafka_like, timeout=2)
    assert answer.brokers == (probe.BrokerNode(1, "127.0.0.1", 4242),)
    assert answer.controller_id == 1


def test_wrong_correlation_id_is_a_probe_error() -> None:
    def reply(request: bytes) -> bytes:
        (correlation_id,) = struct.unpack(">i", request[4:8])
        return _metadata_v1_response(correlation_id + 1, [(1, "h", 1)], 1)

    for port in _serve_once(reply):
        with pytest.raises(probe.ProbeError, match="correlation id"):
            probe.metadata("127.0.0.1", port, timeout=2)


def test_truncated_response_is_a_probe_error() -> None:
    def reply(request: bytes) -> bytes:
        (correlation_id,) = struct.unpack(">i", request[4:8])
        body = struct.pack(">ii", correlation_id, 3)  # claims 3 brokers, sends none
        return struct.pack(">i", len(body)) + body

    for port in _serve_once(reply):
        with pytest.raises(probe.ProbeError, match="truncated"):
            probe.metadata("127.0.0.1", port, timeout=2)


def test_peer_closing_without_answer_is_not_ready() -> None:
    for port in _serve_once(lambda request: None):
        assert probe.answers("127.0.0.1", port, timeout=2) is False


def test_nothing_listening_is_not_ready() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Bound but not listening: connection refused.
    assert probe.answers("127.0.0.1", port, timeout=0.5) is False
