"""Helpers to run scanflow's real processes against a real broker in tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd

from detectors.records import Signal
from scanflow.brokers.base import free_port
from scanflow.settings import Settings


class Proc:
    """``python -m scanflow <args>`` as a child process with its log captured."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed when the child is reaped
        self.proc = subprocess.Popen([sys.executable, "-m", "scanflow", *self.args], env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def pipeline_settings(bootstrap: str, tmp: Path) -> Settings:
    return Settings(bootstrap_servers=bootstrap, lake_dir=tmp / "lake", data_dir=tmp / "data",
                    api_port=free_port(), session_timeout_ms=6000, sink_flush_ms=300)


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANFLOW_")}
    env.update({
        "SCANFLOW_BOOTSTRAP_SERVERS": settings.bootstrap,
        "SCANFLOW_LAKE_DIR": str(settings.lake_dir),
        "SCANFLOW_DATA_DIR": str(settings.data_dir),
        "SCANFLOW_API_PORT": str(settings.api_port),
        "SCANFLOW_SESSION_TIMEOUT_MS": str(settings.session_timeout_ms),
        "SCANFLOW_SINK_FLUSH_MS": str(settings.sink_flush_ms),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def expected_volume_surges(frame: pd.DataFrame, window: int = 20, k: float = 4.0) -> set[int]:
    """Open times of volume surges, computed independently of detectors/ with pandas:
    z-score of volume against the previous ``window`` valid bars (population std)."""
    f = frame.copy()
    ok = (f[["open", "high", "low", "close"]] > 0).all(axis=1) & (f["volume"] >= 0) & (f["high"] >= f["low"])
    ok &= np.isfinite(f[["open", "high", "low", "close", "volume"]]).all(axis=1)
    f = f[ok].drop_duplicates("open_time", keep="last").sort_values("open_time")
    prev = f["volume"].shift(1)
    mean = prev.rolling(window).mean()
    std = prev.rolling(window).std(ddof=0)
    z = (f["volume"] - mean) / std
    hits = f[(std > 1e-12 * mean.abs().clip(lower=1.0)) & (z >= k)]
    return {int(t) for t in hits["open_time"]}


async def read_topic(bootstrap: str, topic: str, *, until: Callable[[list[bytes]], bool],
                     timeout: float = 90.0) -> list[bytes]:
    """All values of ``topic`` from the beginning, until ``until(values)`` or timeout."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(values):
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                values.extend(m.value for m in msgs)
    finally:
        await consumer.stop()
    return values


def signals_on_topic(bootstrap: str, expected: int, timeout: float = 120.0) -> list[Signal]:
    dec = msgspec.json.Decoder(Signal)

    def enough(values: list[bytes]) -> bool:
        return len({dec.decode(v).id for v in values}) >= expected

    values = asyncio.run(read_topic(bootstrap, "signals.volume_surge", until=enough, timeout=timeout))
    return [dec.decode(v) for v in values]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, procs: list[Proc] = ()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    logs = "\n\n".join(f"--- {p.name} ---\n{p.tail()}" for p in procs)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")
