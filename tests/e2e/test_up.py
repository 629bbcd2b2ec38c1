"""`scanflow up` as a user runs it: embedded broker, demo market, worker, sink,
API; signals reach the API; Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from scanflow.brokers.base import free_port

pytestmark = pytest.mark.integration


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = (int(x) for x in line.split())
        children.setdefault(pp, []).append(p)
    found, stack = set(), [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in found:
                found.add(c)
                stack.append(c)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_up_serves_demo_signals_and_ctrl_c_stops_everything(tmp_path):
    api_port, broker_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANFLOW_")}
    env.update({"SCANFLOW_BROKER_PORT": str(broker_port), "SCANFLOW_DEMO_SYMBOLS": "20",
                "SCANFLOW_DEMO_HISTORY_MINUTES": "200", "SCANFLOW_SESSION_TIMEOUT_MS": "6000"})
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "scanflow", "up", "--api-port", str(api_port)],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{api_port}"
    signals = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not signals:
            try:
                r = httpx.get(f"{base}/api/v1/signals", params={"limit": 5}, timeout=2)
                if r.status_code == 200:
                    body = r.json()
                    signals = body.get("signals", []) if isinstance(body, dict) else body
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert signals, "no signal reached the API:\n" + (tmp_path / "up.log").read_text(errors="replace")[-3000:]
        assert signals[0]["exchange"] == "demo" and signals[0]["detector"] == "volume_surge"
        assert (tmp_path / "lake" / "signals").is_dir(), "the lake lives in the working directory by default"
        family = _descendants(proc.pid)
        assert len(family) >= 5, f"expected broker + 4 children, saw {family}"
        # a crashed child is restarted: kill the API and wait for it to answer again
        api_pids = [p for p in family if b"scanflow\x00api" in _cmdline(p)]
        assert len(api_pids) == 1, api_pids
        os.kill(api_pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        back = False
        while time.monotonic() < deadline and not back:
            time.sleep(0.5)
            try:
                back = httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200 and _alive(api_pids[0]) is False
            except httpx.HTTPError:
                pass
        assert back, "the supervisor did not restart the killed API"
        family = _descendants(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0
    time.sleep(0.5)
    left = [p for p in family if _alive(p)]
    assert not left, f"processes left behind after Ctrl-C: {left}"
