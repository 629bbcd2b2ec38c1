"""``scanflow up``: broker, topics, source, worker, sink and API as supervised
child processes, with a live status table.

Each child is ``python -m scanflow <command>`` in its own process group, told to
die with its parent (Linux ``PR_SET_PDEATHSIG``), restarted with backoff when it
crashes, and stopped with SIGTERM then SIGKILL on Ctrl-C. A source that ends
normally (a finished replay) is not restarted. The embedded broker is started
only when no bootstrap servers are configured, and stopped on exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from scanflow.settings import Settings, config_path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()


@dataclass
class Child:
    name: str
    argv: list[str]
    restart: bool = True
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    last_exit: int | None = None
    next_start: float = 0.0
    finished: bool = False
    log_path: Path | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scanflow", *self.argv], env=env, stdout=self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        self.started_at = time.monotonic()

    @property
    def state(self) -> str:
        if self.finished:
            return "done" if self.last_exit == 0 else f"failed ({self.last_exit})"
        if self.proc is None:
            return "waiting"
        return "running" if self.proc.poll() is None else f"exited ({self.proc.returncode})"

    def stop(self, grace: float = 8.0) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
        if self._log:
            self._log.close()


def child_env(settings: Settings, bootstrap: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SCANFLOW_BOOTSTRAP_SERVERS": bootstrap,
        "SCANFLOW_LAKE_DIR": str(Path(settings.lake_dir).resolve()),
        "SCANFLOW_DATA_DIR": str(Path(settings.data_dir).resolve()),
        "SCANFLOW_API_PORT": str(settings.api_port),
        "SCANFLOW_API_HOST": settings.api_host,
        "SCANFLOW_DETECTORS": ",".join(settings.detectors),
        "PYTHONUNBUFFERED": "1",
    })
    cfg = config_path()
    if cfg:
        env["SCANFLOW_CONFIG"] = str(Path(cfg).resolve())
    return env


def plan_children(source: str) -> list[Child]:
    children = [
        Child("worker", ["worker"]),
        Child("sink", ["sink"]),
        Child("api", ["api"]),
    ]
    if source == "demo":
        children.insert(0, Child("source-demo", ["demo"]))
    elif source.startswith("replay:"):
        path = source.split(":", 1)[1]
        if not Path(path).exists():
            raise FileNotFoundError(f"--source replay:{path}: no such file")
        children.insert(0, Child("source-replay", ["replay", str(Path(path).resolve())], restart=False))
    elif source != "none":
        raise ValueError(f"--source must be demo, replay:PATH or none, got {source!r}")
    return children


def _health(settings: Settings) -> dict[str, Any] | None:
    try:
        r = httpx.get(f"http://{settings.api_host}:{settings.api_port}/api/v1/health", timeout=1.0)
        return r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _render(children: list[Child], settings: Settings, bootstrap: str, broker_note: str,
            health: dict[str, Any] | None, started: float) -> Group:
    table = Table(title=f"scanflow up · {time.monotonic() - started:,.0f}s", expand=False)
    for col in ("process", "pid", "state", "uptime", "restarts", "log"):
        table.add_column(col)
    for c in children:
        up = f"{time.monotonic() - c.started_at:,.0f}s" if c.proc and c.proc.poll() is None else "-"
        state = c.state
        style = "green" if state == "running" else "yellow" if state in ("waiting", "done") else "red"
        table.add_row(c.name, str(c.proc.pid if c.proc else "-"), Text(state, style=style), up,
                      str(c.restarts), str(c.log_path or "-"))
    lines = [
        f"broker    {bootstrap}  ({broker_note})",
        f"API       http://{settings.api_host}:{settings.api_port}/api/v1/health",
        f"dashboard http://{settings.api_host}:{settings.api_port}/",
        f"lake      {Path(settings.lake_dir).resolve()}   (scanflow sql \"SELECT * FROM signals LIMIT 5\")",
    ]
    if health:
        lines.append(f"lake rows {health.get('rows', {})}")
    lines.append("Ctrl-C stops everything.")
    return Group(table, Text("\n".join(lines)))


def run_up(settings: Settings, source: str = "demo", *, console: Console | None = None,
           max_seconds: float | None = None) -> int:
    """Run everything until Ctrl-C (or ``max_seconds``); returns an exit code."""
    from scanflow.brokers import start_broker

    console = console or Console()
    children = plan_children(source)
    broker_handle = None
    if settings.bootstrap_servers:
        bootstrap, broker_note = settings.bootstrap_servers, "configured"
    else:
        t0 = time.monotonic()
        broker_handle = start_broker("embedded", port=settings.broker_port,
                                     data_dir=Path(settings.data_dir) / "broker-embedded")
        bootstrap = broker_handle.bootstrap
        broker_note = f"embedded, started in {1000 * (time.monotonic() - t0):.0f} ms"
    import asyncio

    from streams.kafka import create_topics
    from streams.topics import topic_specs

    created = asyncio.run(create_topics(bootstrap, topic_specs(list(settings.detectors), settings.partitions)))
    console.print(f"topics: {sum(v == 'created' for v in created.values())} created, "
                  f"{sum(v != 'created' for v in created.values())} already there")
    env = child_env(settings, bootstrap)
    log_dir = Path(settings.data_dir) / "logs"
    stopping = False

    def _stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    old_int = signal.signal(signal.SIGINT, _stop)
    old_term = signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    for c in children:
        c.start(env, log_dir)
    health: dict[str, Any] | None = None
    last_health = 0.0
    try:
        with Live(_render(children, settings, bootstrap, broker_note, health, started), console=console,
                  refresh_per_second=2, transient=False) as live:
            while not stopping:
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
                now = time.monotonic()
                for c in children:
                    if c.finished or c.proc is None:
                        continue
                    rc = c.proc.poll()
                    if rc is None:
                        continue
                    c.last_exit = rc
                    if rc == 0 and not c.restart:
                        c.finished = True
                        continue
                    if c.next_start == 0.0:
                        backoff = min(30.0, 1.0 * 2 ** min(c.restarts, 5))
                        c.next_start = now + backoff
                    elif now >= c.next_start:
                        c.restarts += 1
                        c.next_start = 0.0
                        c.start(env, log_dir)
                if now - last_health > 2.0:
                    health = _health(settings)
                    last_health = now
                live.update(_render(children, settings, bootstrap, broker_note, health, started))
                time.sleep(0.25)
    finally:
        console.print("stopping children ...")
        for c in reversed(children):
            c.stop()
        if broker_handle is not None:
            broker_handle.stop()
            console.print("embedded broker stopped")
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    return 0
