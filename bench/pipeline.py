"""End-to-end pipeline benchmark: candles/s through broker + Faust worker, and
candle-on-broker -> signal-on-broker latency, on a fresh broker.

    scanflow bench pipeline [--engine embedded|kafka] [--candles N] [--symbols S]

The source is the demo market's back history (``S`` symbols x ``N/S`` minutes),
published as fast as the broker accepts. Throughput = candles / (time from the
first publish until the worker has processed the last one). Latency joins every
signal with its candle by (key, open_time) and subtracts the broker timestamps
(producer create time) of the two messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np


def _worker_stats(data_dir: Path) -> dict | None:
    files = sorted((data_dir / "worker").glob("stats-*.json"))
    if not files:
        return None
    try:
        return json.loads(files[-1].read_text())
    except (OSError, ValueError):
        return None


async def _publish(bootstrap: str, candles: list) -> float:
    from detectors.records import encode
    from streams.kafka import make_producer

    producer = make_producer(bootstrap, linger_ms=5)
    await producer.start()
    t0 = time.monotonic()
    try:
        futs = []
        for c in candles:
            futs.append(await producer.send("md.candles.1m", encode(c), key=c.key.encode()))
            if len(futs) >= 10_000:
                await asyncio.gather(*futs)
                futs.clear()
        await asyncio.gather(*futs)
    finally:
        await producer.stop()
    return t0


async def _timestamps(bootstrap: str, topic: str, expect: int, timeout: float) -> dict[tuple[bytes, int], int]:
    from aiokafka import AIOKafkaConsumer

    out: dict[tuple[bytes, int], int] = {}
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expect and time.monotonic() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=500, max_records=20_000)).values():
                for m in msgs:
                    ot = msgspec.json.decode(m.value)["open_time"]
                    out.setdefault((m.key, ot), m.timestamp)
    finally:
        await consumer.stop()
    return out


def run(engine: str, n_candles: int, n_symbols: int) -> dict:
    from connectors.demo import DemoMarket
    from scanflow.brokers import make_broker
    from scanflow.brokers.base import free_port
    from scanflow.settings import Settings
    from streams.kafka import create_topics
    from streams.topics import topic_specs

    tmp = Path(tempfile.mkdtemp(prefix="scanflow-bench-"))
    port = free_port(consecutive=2)
    broker = make_broker(engine, port, tmp / "broker")
    t = time.monotonic()
    broker.start()
    broker_start = time.monotonic() - t
    bootstrap = broker.bootstrap
    settings = Settings(bootstrap_servers=bootstrap, data_dir=tmp / "data", lake_dir=tmp / "lake",
                        session_timeout_ms=6000)
    worker = None
    try:
        asyncio.run(create_topics(bootstrap, topic_specs(["volume_surge"], settings.partitions)))
        minutes = max(1, n_candles // n_symbols)
        market = DemoMarket(n_symbols, seed=11)
        candles = [c for minute in market.history(minutes) for c in minute]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCANFLOW_")}
        env.update({"SCANFLOW_BOOTSTRAP_SERVERS": bootstrap, "SCANFLOW_DATA_DIR": str(settings.data_dir),
                    "SCANFLOW_SESSION_TIMEOUT_MS": "6000", "SCANFLOW_LOG_LEVEL": "WARNING"})
        log = open(tmp / "worker.log", "wb")  # noqa: SIM115
        worker = subprocess.Popen([sys.executable, "-m", "scanflow", "worker"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while _worker_stats(settings.data_dir) is None:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"worker did not start; see {tmp / 'worker.log'}")
            time.sleep(0.2)
        time.sleep(1.0)  # let the group settle after the first assignment
        t0 = asyncio.run(_publish(bootstrap, candles))
        published_at = time.monotonic()
        deadline = time.monotonic() + 600
        while True:
            st = _worker_stats(settings.data_dir) or {}
            if st.get("candles", 0) >= len(candles):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker processed {st.get('candles')} of {len(candles)} in 600s")
            time.sleep(0.05)
        done = time.monotonic()
        n_signals = int(st.get("signals", 0))
        sig_ts = asyncio.run(_timestamps(bootstrap, "signals.volume_surge", n_signals, 60))
        candle_ts = asyncio.run(_timestamps(bootstrap, "md.candles.1m", len(candles), 120))
        lat = np.array([ts - candle_ts[k] for k, ts in sig_ts.items() if k in candle_ts], dtype=np.float64)
        return {
            "engine": engine,
            "broker_start_s": round(broker_start, 3),
            "candles": len(candles),
            "symbols": n_symbols,
            "signals": n_signals,
            "publish_s": round(published_at - t0, 3),
            "end_to_end_s": round(done - t0, 3),
            "candles_per_s": round(len(candles) / (done - t0)),
            "latency_ms_p50": float(np.percentile(lat, 50)) if len(lat) else None,
            "latency_ms_p99": float(np.percentile(lat, 99)) if len(lat) else None,
        }
    finally:
        if worker and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        broker.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="scanflow bench pipeline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=["embedded", "kafka"], default="embedded")
    ap.add_argument("--candles", type=int, default=50_000)
    ap.add_argument("--symbols", type=int, default=500)
    a = ap.parse_args(argv)
    res = run(a.engine, a.candles, a.symbols)
    width = max(len(k) for k in res)
    print("pipeline benchmark (replay -> broker -> Faust worker -> signals)")
    for k, v in res.items():
        print(f"  {k:<{width}}  {v}")
    print("  note: latency includes the queueing of a burst published as fast as the broker accepts;"
          " it is the p50/p99 under that burst, not an idle-system latency")


if __name__ == "__main__":
    main()
