"""Readiness probe: one Kafka ``Metadata`` (v1) request over a plain socket.

A broker counts as ready when it answers the request and lists at least one
broker. This is the question every client asks first, so a broker that
answers it accepts producers and consumers. Standard library only: the probe
runs in the CLI and in pytest fixtures without an event loop.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

_METADATA_API_KEY = 3
_METADATA_VERSION = 1
_CLIENT_ID = b"scanflow-probe"


class ProbeError(RuntimeError):
    """The peer accepted a connection but did not answer like a Kafka broker."""


@dataclass(frozen=True)
class BrokerNode:
    node_id: int
    host: str
    port: int


@dataclass(frozen=True)
class MetadataAnswer:
    brokers: tuple[BrokerNode, ...]
    controller_id: int


def _metadata_request(correlation_id: int) -> bytes:
    header = struct.pack(
        ">hhih", _METADATA_API_KEY, _METADATA_VERSION, correlation_id, len(_CLIENT_ID)
    )
    # Metadata v1 body: topics array; an empty array asks for no topics at all.
    body = struct.pack(">i", 0)
    payload = header + _CLIENT_ID + body
    return struct.pack(">i", len(payload)) + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ProbeError(
                f"connection closed after {len(chunks)} of {n} bytes of a Metadata response"
            )
        chunks += chunk
    return bytes(chunks)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos : self.pos + n].decode("utf-8")
        self.pos += n
        return s


def metadata(host: str, port: int, timeout: float = 1.0) -> MetadataAnswer:
    """Send one Metadata v1 request and return the brokers it lists.

    Raises ``OSError`` when nothing accepts the connection and
    :class:`ProbeError` when the answer is not a Metadata v1 response.
    """
    correlation_id = int(time.monotonic_ns() & 0x7FFFFFFF)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_metadata_request(correlation_id))
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        if not 0 < size < 16 * 1024 * 1024:
            raise ProbeError(f"{host}:{port} answered with an implausible frame size {size}")
        frame = _recv_exact(sock, size)
    try:
        r = _Reader(frame)
        got = r.take(">i")
        if got != correlation_id:
            raise ProbeError(
                f"{host}:{port} answered correlation id {got}, expected {correlation_id}"
            )
        brokers = []
        for _ in range(r.take(">i")):
            node_id = r.take(">i")
            node_host = r.string() or ""
            node_port = r.take(">i")
            r.string()  # rack
            brokers.append(BrokerNode(node_id, node_host, node_port))
        controller_id = r.take(">i")
    except struct.error as exc:
        raise ProbeError(f"{host}:{port} sent a truncated Metadata response: {exc}") from exc
    return MetadataAnswer(tuple(brokers), controller_id)


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a broker on host:port answers Metadata and lists a broker."""
    try:
        return bool(metadata(host, port, timeout).brokers)
    except (OSError, ProbeError):
        return False
