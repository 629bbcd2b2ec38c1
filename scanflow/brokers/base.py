"""A broker process the CLI starts, finds again by its pid file, and stops.

:class:`ManagedBroker` holds everything both engines share: the layout of the
broker's directory (``broker.pid``, ``broker.log`` and the engine's own data),
spawning the process in its own session (so ``stop`` can kill the whole
process group and a CLI that exits leaves the broker running), waiting until
it answers a Kafka Metadata request, and SIGTERM-then-SIGKILL shutdown.

An engine subclass says how to run it:

- :meth:`ManagedBroker.prepare` is called by :meth:`start` before spawning,
  only when no broker from this directory is running: write configuration,
  format storage, fetch binaries.
- :meth:`ManagedBroker.command` returns the argv to spawn (absolute program path).
- :attr:`ManagedBroker.process_marker` is a string that must appear in the
  process command line; it protects ``stop`` from killing an unrelated process
  that inherited a stale pid.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from scanflow.brokers import probe

HOST = "127.0.0.1"


class BrokerError(RuntimeError):
    """A broker could not be started, found or stopped; the message says which and why."""


@dataclass(frozen=True)
class BrokerStatus:
    """What ``status`` knows about the broker of one directory."""

    engine: str
    data_dir: Path
    running: bool
    pid: int | None = None
    port: int | None = None
    started_at: float | None = None  # unix seconds, from the pid file
    answering: bool = False  # answered a Metadata request just now
    stale_pid_file: bool = False  # a pid file named a process that is gone

    @property
    def bootstrap(self) -> str | None:
        return f"{HOST}:{self.port}" if self.port is not None else None

    @property
    def uptime_s(self) -> float | None:
        if not self.running or self.started_at is None:
            return None
        return max(0.0, time.time() - self.started_at)

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"


@dataclass(frozen=True)
class StartResult:
    status: BrokerStatus
    already_running: bool
    #: Milliseconds from the call to the first answered Metadata request, preparation
    #: (config, storage format) included; None when it was already running.
    ready_ms: float | None


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when a listener could bind host:port (SO_REUSEADDR, as brokers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(consecutive: int = 1, host: str = HOST, attempts: int = 50) -> int:
    """A port picked by the OS (bind port 0) whose next ``consecutive - 1`` ports are free too."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port + consecutive - 1 < 65536 and all(
            port_is_free(port + i, host) for i in range(consecutive)
        ):
            return port
    raise BrokerError(
        f"no {consecutive} consecutive free ports on {host} after {attempts} attempts"
    )


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, or a note that it is missing."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log file at {path})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(log file {path} is empty)"


def _reap(pid: int) -> int | None:
    """Collect the exit status if ``pid`` is our exited child; None when still running or not ours."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie. Does not reap (exit codes stay collectable)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        # No procfs (macOS): a zombie child of ours is told apart by reaping it.
        return _reap(pid) is None
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _group_alive(pgid: int) -> bool:
    """True while a non-zombie process of process group ``pgid`` exists."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


_WATCHDOG = (
    # A watcher in the broker's process group polls the owner and, once it is gone,
    # signals the whole group; then the shell execs the broker, keeping the pid.
    '( while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -TERM 0 ) & exec "$@"'
)


def _watched(argv: list[str], owner: int) -> list[str]:
    """``argv`` wrapped so the broker's process group is terminated when ``owner`` exits."""
    return ["/bin/sh", "-c", _WATCHDOG, str(owner), *argv]


class ManagedBroker(ABC):
    """One broker engine bound to one directory; see the module docstring."""

    engine: ClassVar[str]
    process_marker: ClassVar[str]
    #: Seconds ``start`` waits for the broker to answer Metadata.
    default_ready_timeout: ClassVar[float] = 30.0
    #: Seconds ``stop`` waits after SIGTERM before SIGKILL.
    default_stop_grace: ClassVar[float] = 10.0

    def __init__(self, data_dir: str | Path, port: int, *, die_with: int | None = None) -> None:
        """``die_with``: a pid (e.g. a test session's) whose exit makes the broker stop itself."""
        if not 0 < port < 65536:
            raise BrokerError(f"{self.engine} broker: port {port} is out of range 1-65535")
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.die_with = die_with

    # -- layout ---------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    # -- engine hooks -------------------------------------------------------
    @abstractmethod
    def command(self) -> list[str]:
        """The argv to spawn; argv[0] is an absolute path."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Called by :meth:`start` before spawning when nothing runs from this directory."""

    def required_ports(self) -> list[int]:
        """Ports the broker binds; ``start`` refuses early when one is taken."""
        return [self.port]

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    # -- pid file -----------------------------------------------------------
    def _read_pid_file(self) -> dict | None:
        try:
            data = json.loads(self.pid_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BrokerError(
                f"{self.engine} broker: unreadable pid file {self.pid_file}: {exc}"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
            raise BrokerError(
                f"{self.engine} broker: pid file {self.pid_file} has no integer 'pid'"
            )
        return data

    def _write_pid_file(self, pid: int, started_at: float) -> None:
        data = {"engine": self.engine, "pid": pid, "port": self.port, "started_at": started_at}
        tmp = self.pid_file.with_suffix(".pid.tmp")
        tmp.write_text(json.dumps(data) + "\n")
        os.replace(tmp, self.pid_file)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise start/stop of this directory across processes (two `start`s spawn one broker)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "broker.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _is_ours(self, pid: int) -> bool:
        if not pid_alive(pid):
            return False
        cmd = _cmdline(pid)
        return cmd is None or self.process_marker in cmd

    # -- operations ---------------------------------------------------------
    def status(self, probe_timeout: float = 0.5) -> BrokerStatus:
        """Whether the broker recorded in this directory's pid file runs and answers."""
        data = self._read_pid_file()
        if data is None:
            return BrokerStatus(self.engine, self.data_dir, running=False)
        pid = data["pid"]
        port = data.get("port")
        started_at = data.get("started_at")
        if not self._is_ours(pid):
            return BrokerStatus(
                self.engine,
                self.data_dir,
                running=False,
                pid=pid,
                port=port,
                started_at=started_at,
                stale_pid_file=True,
            )
        answering = isinstance(port, int) and probe.answers(HOST, port, probe_timeout)
        return BrokerStatus(
            self.engine,
            self.data_dir,
            running=True,
            pid=pid,
            port=port,
            started_at=started_at,
            answering=answering,
        )

    def start(self, ready_timeout: float | None = None) -> StartResult:
        """Start the broker and wait until it answers; harmless when it already runs.

        When a broker from this directory already runs, nothing is spawned and
        the result says so (with the port it actually runs on). On failure the
        spawned process is killed and the error carries the log tail.
        """
        with self._exclusive():
            return self._start(ready_timeout)

    def _start(self, ready_timeout: float | None) -> StartResult:
        current = self.status()
        if current.running:
            if not current.answering:
                self._wait_ready(current.pid or 0, current.port or self.port, ready_timeout)
                current = self.status()
            return StartResult(current, already_running=True, ready_ms=None)
        if current.stale_pid_file:
            self.pid_file.unlink(missing_ok=True)

        taken = [p for p in self.required_ports() if not port_is_free(p)]
        if taken:
            raise BrokerError(
                f"{self.engine} broker: port(s) {', '.join(map(str, taken))} on {HOST} already in use "
                f"by another process; pick another --port"
            )
        t0 = time.perf_counter()
        self.prepare()
        argv = self.command()
        if self.die_with is not None:
            argv = _watched(argv, self.die_with)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== scanflow: starting {self.engine} broker: {' '.join(argv)}\n".encode())
        started_at = time.time()
        pid = self._spawn(argv)
        self._write_pid_file(pid, started_at)
        try:
            self._wait_ready(pid, self.port, ready_timeout)
        except BaseException:
            self._kill_group(pid, grace=2.0)
            self.pid_file.unlink(missing_ok=True)
            raise
        ready_ms = (time.perf_counter() - t0) * 1000.0
        return StartResult(self.status(), already_running=False, ready_ms=ready_ms)

    def stop(self, grace: float | None = None) -> BrokerStatus:
        """Stop the broker of this directory (SIGTERM, SIGKILL after ``grace``); remove its pid file.

        Returns the status before stopping (``running`` False: nothing ran).
        """
        if not self.data_dir.is_dir():
            return BrokerStatus(self.engine, self.data_dir, running=False)
        with self._exclusive():
            before = self.status(probe_timeout=0.2)
            if before.running and before.pid is not None:
                self._kill_group(before.pid, self.default_stop_grace if grace is None else grace)
            self.pid_file.unlink(missing_ok=True)
        return before

    # -- process plumbing -----------------------------------------------------
    def _spawn(self, argv: list[str]) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        file_actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(self.log_file), flags, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        try:
            return os.posix_spawn(
                argv[0], argv, self.environment(), file_actions=file_actions, setsid=True
            )
        except OSError as exc:
            raise BrokerError(f"{self.engine} broker: cannot run {argv[0]}: {exc}") from exc

    def _wait_ready(self, pid: int, port: int, timeout: float | None) -> None:
        timeout = self.default_ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        delay = 0.003
        while True:
            code = _reap(pid)
            if code is None and not pid_alive(pid):
                code = _reap(pid)  # it exited between the two checks
            if code is not None or not pid_alive(pid):
                exit_note = f"exited with code {code}" if code is not None else "is gone"
                raise BrokerError(
                    f"{self.engine} broker (pid {pid}, port {port}) {exit_note} before it was ready; "
                    f"log {self.log_file} ends with:\n{log_tail(self.log_file)}"
                )
            if probe.answers(HOST, port, timeout=1.0):
                return
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"{self.engine} broker (pid {pid}) did not answer a Metadata request on "
                    f"{HOST}:{port} within {timeout:g}s; log {self.log_file} ends with:\n"
                    f"{log_tail(self.log_file)}"
                )
            time.sleep(delay)
            delay = min(delay * 1.3, 0.1)

    def _kill_group(self, pid: int, grace: float) -> None:
        """SIGTERM the process group led by ``pid``; SIGKILL whatever is left after ``grace``."""
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        except PermissionError as exc:
            raise BrokerError(
                f"{self.engine} broker: not allowed to signal pid {pid}: {exc}"
            ) from exc
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not pid_alive(pid) and not _group_alive(pid):
                break
            time.sleep(0.05)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
        end = time.monotonic() + 5.0
        while pid_alive(pid) and time.monotonic() < end:
            time.sleep(0.02)
        _reap(pid)  # no zombie left when we started it ourselves
        if pid_alive(pid):
            raise BrokerError(f"{self.engine} broker: pid {pid} survived SIGKILL")
