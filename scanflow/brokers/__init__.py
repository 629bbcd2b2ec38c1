"""Brokers the CLI and the tests start on loopback: embedded Tansu and Apache Kafka.

>>> handle = start_broker("embedded", port=19092, data_dir=".scanflow/broker-embedded")
>>> handle.bootstrap
'127.0.0.1:19092'
>>> handle.stop()

``data_dir`` is the broker's own directory (pid file, log, and for Kafka its
configuration and log dirs); it defaults to ``<settings.data_dir>/broker-<engine>``.
Nothing here touches the network on import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scanflow.brokers.base import BrokerError, BrokerStatus, ManagedBroker, StartResult, free_port

Engine = Literal["embedded", "kafka"]
ENGINES: tuple[str, ...] = ("embedded", "kafka")

__all__ = [
    "ENGINES",
    "BrokerError",
    "BrokerHandle",
    "BrokerStatus",
    "Engine",
    "StartResult",
    "broker_status",
    "default_data_dir",
    "free_port",
    "make_broker",
    "start_broker",
    "stop_broker",
]


def default_data_dir(engine: str, base: str | Path = ".scanflow") -> Path:
    """``<base>/broker-<engine>``; ``base`` is ``Settings.data_dir``."""
    return Path(base) / f"broker-{engine}"


def make_broker(engine: str, port: int, data_dir: str | Path | None = None) -> ManagedBroker:
    """The :class:`ManagedBroker` for ``engine`` ("embedded" or "kafka"); nothing is started."""
    directory = Path(data_dir) if data_dir is not None else default_data_dir(engine)
    if engine == "embedded":
        from scanflow.brokers.embedded import EmbeddedBroker

        return EmbeddedBroker(directory, port)
    if engine == "kafka":
        from scanflow.brokers.kafka import KafkaBroker

        return KafkaBroker(directory, port)
    raise BrokerError(f"unknown broker engine {engine!r}; choose one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class BrokerHandle:
    """A started (or already running) broker."""

    broker: ManagedBroker
    result: StartResult

    @property
    def engine(self) -> str:
        return self.broker.engine

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the running broker (its recorded port if it was already running)."""
        return self.result.status.bootstrap or self.broker.bootstrap

    @property
    def pid(self) -> int | None:
        return self.result.status.pid

    @property
    def already_running(self) -> bool:
        return self.result.already_running

    @property
    def ready_ms(self) -> float | None:
        return self.result.ready_ms

    def status(self) -> BrokerStatus:
        return self.broker.status()

    def stop(self, grace: float | None = None) -> BrokerStatus:
        """Stop the broker (SIGTERM, then SIGKILL after ``grace`` seconds)."""
        return self.broker.stop(grace)


def start_broker(
    engine: str = "embedded",
    port: int = 19092,
    data_dir: str | Path | None = None,
    ready_timeout: float | None = None,
) -> BrokerHandle:
    """Start a broker on 127.0.0.1:``port`` and wait until it answers; harmless if it runs already."""
    broker = make_broker(engine, port, data_dir)
    return BrokerHandle(broker, broker.start(ready_timeout))


def stop_broker(
    engine: str = "embedded", data_dir: str | Path | None = None, grace: float | None = None
) -> BrokerStatus:
    """Stop the broker recorded in ``data_dir``; returns its status before stopping."""
    # The port only matters for starting; the pid file says where it runs.
    return make_broker(engine, 1, data_dir).stop(grace)


def broker_status(engine: str = "embedded", data_dir: str | Path | None = None) -> BrokerStatus:
    """Whether the broker recorded in ``data_dir`` runs, its pid, port, uptime, and whether it answers."""
    return make_broker(engine, 1, data_dir).status()
