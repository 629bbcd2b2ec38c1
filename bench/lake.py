"""Lake ingest benchmark: rows/s of the lake sink, candles and signals.

    scanflow bench lake [--rows N] [--signals N] [--engine embedded|kafka|none] [--bootstrap HOST:PORT]

1. Write path: pre-encoded JSON messages (real 1m candles from the shared
   market data, replicated over symbols) go through ``LakeSink.write`` in
   per-partition batches of ``--batch`` rows and ``flush`` (fsync'd parquet plus
   progress markers), exactly as the runner calls them. rows/s = rows / time.
2. Full path: the same messages are produced to fresh topics on a broker
   (``--bootstrap``, or a fresh embedded/Kafka broker started here), then
   ``run_sink`` consumes and lands them. rows/s is measured from the sink's
   first write to its last flush (the group join, which the embedded broker
   delays by half the session timeout, is reported separately).

Budget (DESIGN.md): >= 300,000 rows/s per sink process, batched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sinks.base import SinkBatch, TopicPartition
from sinks.lake import LakeSink
from sinks.testing import candles_from_ohlcv, messages, signals_for
from streams.records import Candle, encode

BUDGET = 300_000
PARTITIONS = 8


def shared_market_dir() -> Path:
    env = os.environ.get("SCANFLOW_SHARED_MARKET")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market"


def load_candles(rows: int, minutes: int = 1440) -> tuple[list[Candle], str]:
    """``rows`` real 1m candles shaped like live traffic: the first ``minutes``
    of each freqtrade 2018 file (one UTC day by default), replicated as more
    symbols (``ADA1/BTC``, ...) until there are enough."""
    folder = shared_market_dir() / "freqtrade" / "history-2019"
    files = sorted(folder.glob("*_BTC-1m.json"))
    if not files:
        raise SystemExit(f"bench lake: no real candles under {folder} (set SCANFLOW_SHARED_MARKET)")
    day = {f: json.loads(f.read_text())[:minutes] for f in files}
    out: list[Candle] = []
    copy = 0
    while len(out) < rows:
        for f, data in day.items():
            base = f.name.split("_")[0]
            out.extend(candles_from_ohlcv(data, exchange="bench", symbol=f"{base}{copy or ''}/BTC"))
            if len(out) >= rows:
                break
        copy += 1
    return out[:rows], f"{len(files)} freqtrade 1m files, first {minutes} minutes each, x{copy} symbols"


def _partitioned(topic: str, values: list[bytes]) -> list[SinkBatch]:
    """Values spread over PARTITIONS partitions (like key hashing), in offset order."""
    per: list[list[bytes]] = [[] for _ in range(PARTITIONS)]
    for i, v in enumerate(values):
        per[i % PARTITIONS].append(v)
    return [SinkBatch.of(messages(topic, vs, partition=p)) for p, vs in enumerate(per) if vs]


def bench_write(topic: str, values: list[bytes], batch: int, lake: Path, fsync: bool = True) -> dict[str, Any]:
    sink = LakeSink(lake, fsync=fsync)
    batches = []
    for b in _partitioned(topic, values):
        for start in range(0, len(b.messages), batch // PARTITIONS or 1):
            batches.append(SinkBatch(b.tp, b.messages[start:start + batch // PARTITIONS or 1]))
    sink.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    t0 = time.perf_counter()
    c0 = time.process_time()
    buffered = 0
    decode_s = flush_s = 0.0
    # interleave partitions the way getmany returns them
    order = sorted(batches, key=lambda b: (b.first_offset, b.tp.partition))
    for b in order:
        t = time.perf_counter()
        letters = sink.write(b)
        decode_s += time.perf_counter() - t
        if letters:
            raise SystemExit(f"bench lake: {len(letters)} rejected records in {topic}: {letters[0]}")
        buffered += len(b)
        if buffered >= batch:
            t = time.perf_counter()
            sink.flush()
            flush_s += time.perf_counter() - t
            buffered = 0
    t = time.perf_counter()
    sink.flush()
    flush_s += time.perf_counter() - t
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    stats = sink.stats()
    return {"rows": stats["rows_written"], "seconds": seconds, "rows_per_s": stats["rows_written"] / seconds,
            "cpu_s": cpu, "rows_per_cpu_s": stats["rows_written"] / cpu,
            "decode_s": decode_s, "flush_s": flush_s, "files": stats["files_written"],
            "duplicates": stats["duplicates_dropped"]}


class _TimedSink(LakeSink):
    first_write: float | None = None
    last_flush: float | None = None

    def write(self, batch: SinkBatch):  # type: ignore[no-untyped-def]
        if self.first_write is None:
            self.first_write = time.perf_counter()
        return super().write(batch)

    def flush(self):  # type: ignore[no-untyped-def]
        out = super().flush()
        if out:
            self.last_flush = time.perf_counter()
        return out


async def _produce(bootstrap: str, items: list[tuple[str, bytes]]) -> float:
    from streams.kafka import make_producer

    producer = make_producer(bootstrap, linger_ms=20, max_batch_size=1_048_576)
    await producer.start()
    t0 = time.perf_counter()
    try:
        futures = []
        for i, (topic, value) in enumerate(items):
            futures.append(await producer.send(topic, value=value, partition=i % PARTITIONS))
        for f in futures:
            await f
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def bench_full(bootstrap: str, candle_values: list[bytes], signal_values: list[bytes], lake: Path,
                     batch: int) -> dict[str, Any]:
    from scanflow.settings import Settings
    from sinks.runner import run_sink
    from streams.kafka import create_topics
    from streams.topics import TopicSpec

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    ctopic, stopic = prefix + "md.candles.1m", prefix + "signals.volume_surge"
    await create_topics(bootstrap, [TopicSpec(t, PARTITIONS, "exchange:market:symbol", "delete", "bench")
                                    for t in (ctopic, stopic)])
    produce_s = await _produce(bootstrap, [(ctopic, v) for v in candle_values] + [(stopic, v) for v in signal_values])
    total = len(candle_values) + len(signal_values)
    settings = Settings(bootstrap_servers=bootstrap, lake_dir=lake, session_timeout_ms=6000,
                        sink_batch_rows=batch, sink_flush_ms=1000)
    sink = _TimedSink(lake, topic_prefix=prefix)
    stop = asyncio.Event()
    t0 = time.perf_counter()
    task = asyncio.create_task(run_sink(settings, stop_event=stop, sink=sink, topic_prefix=prefix,
                                        group_id=prefix + "sink"))
    while sink.stats_.rows_written < total:
        if task.done():
            task.result()
            raise SystemExit("bench lake: run_sink stopped before landing every row")
        if time.perf_counter() - t0 > 600:
            raise SystemExit(f"bench lake: only {sink.stats_.rows_written}/{total} rows landed in 600 s")
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert sink.first_write is not None and sink.last_flush is not None
    seconds = sink.last_flush - sink.first_write
    return {"rows": total, "produce_s": produce_s, "join_s": sink.first_write - t0, "seconds": seconds,
            "rows_per_s": total / seconds}


def _start_broker(engine: str, workdir: Path):  # type: ignore[no-untyped-def]
    from scanflow.brokers.base import free_port

    if engine == "embedded":
        from scanflow.brokers.embedded import EmbeddedBroker

        broker = EmbeddedBroker(workdir / "broker", free_port())
    else:
        from scanflow.brokers.kafka import KafkaBroker, missing_prerequisites

        missing = missing_prerequisites()
        if missing:
            print(f"full path skipped: Apache Kafka unavailable ({missing})")
            return None
        broker = KafkaBroker(workdir / "broker", free_port(consecutive=2))
    broker.start()
    return broker


def _line(name: str, r: dict[str, Any]) -> str:
    verdict = "meets" if r["rows_per_s"] >= BUDGET else "BELOW"
    cpu = f", {r['rows_per_cpu_s']:,.0f} rows/cpu-s" if "rows_per_cpu_s" in r else ""
    return (f"{name:<34} {r['rows']:>9,} rows {r['seconds']:>7.2f} s {r['rows_per_s']:>11,.0f} rows/s"
            f"{cpu}  ({verdict} {BUDGET:,})")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="scanflow bench lake", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=400_000, help="candles to land (default 400,000)")
    ap.add_argument("--signals", type=int, default=200_000, help="signals to land (default 200,000)")
    ap.add_argument("--batch", type=int, default=100_000, help="rows per flush (settings.sink_batch_rows)")
    ap.add_argument("--engine", choices=["embedded", "kafka", "none"], default="embedded",
                    help="broker for the full path, started here (none: write path only)")
    ap.add_argument("--bootstrap", default=None, help="use this running broker for the full path instead")
    ap.add_argument("--no-fsync", action="store_true", help="write path without fsync (shows its cost)")
    args = ap.parse_args(argv)

    candles, source = load_candles(args.rows)
    sigs = signals_for(candles[: args.signals]) if args.signals <= len(candles) else signals_for(
        load_candles(args.signals)[0])
    candle_values = [encode(c) for c in candles]
    signal_values = [encode(s) for s in sigs]
    print(f"bench lake: {len(candle_values):,} candles ({source}), {len(signal_values):,} signals, "
          f"batch {args.batch:,}, {PARTITIONS} partitions, cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="scanflow-bench-lake-") as tmp:
        work = Path(tmp)
        r = bench_write("md.candles.1m", candle_values, args.batch, work / "w-candles", fsync=not args.no_fsync)
        results["write_candles"] = r
        print(_line("write path, candles", r) + f"  decode {r['decode_s']:.2f} s, flush {r['flush_s']:.2f} s, {r['files']} files")
        r = bench_write("signals.volume_surge", signal_values, args.batch, work / "w-signals", fsync=not args.no_fsync)
        results["write_signals"] = r
        print(_line("write path, signals", r) + f"  decode {r['decode_s']:.2f} s, flush {r['flush_s']:.2f} s, {r['files']} files")
        dup = signal_values[: len(signal_values) // 2]
        r = bench_write("signals.volume_surge", signal_values + dup, args.batch, work / "w-dups", fsync=not args.no_fsync)
        results["write_signals_with_duplicates"] = r
        print(_line("write path, signals +50% dupes", r) + f"  {r['duplicates']:,} duplicates dropped")

        broker = None
        bootstrap = args.bootstrap
        if bootstrap is None and args.engine != "none":
            broker = _start_broker(args.engine, work)
            bootstrap = broker.bootstrap if broker is not None else None
        try:
            if bootstrap:
                r = asyncio.run(bench_full(bootstrap, candle_values, signal_values, work / "full", args.batch))
                results["full"] = r
                print(_line(f"full path ({args.bootstrap or args.engine})", r)
                      + f"  produce {r['produce_s']:.1f} s, group join {r['join_s']:.1f} s (excluded)")
        finally:
            if broker is not None:
                broker.stop()
    return results


if __name__ == "__main__":
    main()
