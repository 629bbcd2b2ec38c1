"""Connector benchmarks: ``python -m bench.connectors [--frames N] [--symbols N] [--minutes N]``.

Prints
1. trade frames per second one process decodes and publishes (one core):
   real Binance spot and USDⓈ-M trade frames (hftbacktest captures, trade
   ids renumbered so none is dropped as a repeat) through
   ``Connector.on_frame`` into (a) a null publisher (decode + convert +
   encode) and (b) the embedded broker (aiokafka producer, linger 5 ms);
2. time from a fake exchange's closing kline frame (sent on loopback) to the
   candle on the broker (read back by a consumer), p50/p99, with every
   symbol closing at the same instant (a boundary burst);
3. Python memory per 1,000 subscribed symbols (connector state after a few
   minutes of candles and trades, tracemalloc), plus the process RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKET = ROOT / ".." / "shared" / "data" / "market"


class NullPublisher:
    def __init__(self) -> None:
        self.count = 0

    async def start(self) -> None: ...

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.count += 1

    async def flush(self) -> None: ...

    async def stop(self) -> None: ...


def trade_frames(market: str, n: int) -> list[str]:
    path = MARKET / "hftbacktest" / market / ("btcusdt_20240809.gz" if market == "spot" else "btcusdt_20240808.gz")
    raw = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if "@trade" in line:
                raw.append(line.split(" ", 1)[1].strip())
    tid = re.compile(r'"t":\d+')
    return [tid.sub(f'"t":{i + 1}', raw[i % len(raw)], count=1) for i in range(n)]


async def bench_throughput(frames_n: int, bootstrap: str | None) -> None:
    from connectors.base import Connector, KafkaPublisher
    from connectors.binance import BinanceSpotVenue, BinanceUsdmVenue

    for market, cls in (("spot", BinanceSpotVenue), ("usdm", BinanceUsdmVenue)):
        frames = trade_frames(market, frames_n)
        targets: list[tuple[str, Any]] = [("null publisher", NullPublisher())]
        if bootstrap:
            targets.append(("embedded broker", KafkaPublisher(bootstrap)))
        for label, pub in targets:
            venue = cls()
            venue.set_symbol_map({"BTC/USDT": "BTCUSDT"})
            conn = Connector(venue, pub, rest=None, symbols=["BTC/USDT"])  # type: ignore[arg-type]
            conn.plan.update(["BTC/USDT"])
            await pub.start()
            on_frame, now = conn.on_frame, time.time_ns
            cpu0, t0 = time.process_time(), time.perf_counter()
            for f in frames:
                await on_frame(None, f, now() // 1_000_000)  # type: ignore[arg-type]
            await pub.flush()
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            await pub.stop()
            assert conn.stats.ticks == len(frames), conn.stats.snapshot()
            print(f"  {market:4s} trades -> {label:15s}: {len(frames) / wall:>9,.0f} frames/s wall, "
                  f"{len(frames) / cpu:>9,.0f} frames/s per CPU-second ({len(frames):,} frames)")


async def bench_latency(bootstrap: str, symbols: int, minutes: int) -> None:
    import msgspec
    from aiokafka import AIOKafkaConsumer, TopicPartition

    sys.path.insert(0, str(ROOT))
    from connectors.base import CcxtRest, Connector, ConnectorOptions, KafkaPublisher, VenueConfig
    from connectors.binance import BinanceSpotVenue
    from streams import topics
    from streams.records import Candle
    from tests.connectors.fakes.binance import FakeBinance
    from tests.connectors.fakes.exchange import CandleRow

    fake = FakeBinance("spot", max_msgs_per_second=10_000)
    await fake.start()
    bases = [f"L{i:04d}" for i in range(symbols)]
    for b in bases:
        fake.list_symbol(b, "USDT")
    start = (time.time_ns() // 1_000_000) // 60_000 * 60_000 - 10 * 60_000 * minutes
    fake.set_now(start)
    venue = BinanceSpotVenue(VenueConfig(fake.ws_url, fake.rest_url, channels=("kline",)))
    rest = CcxtRest(venue)
    await rest.load_markets()
    pub = KafkaPublisher(bootstrap, linger_ms=1)
    await pub.start()
    conn = Connector(venue, pub, rest, [f"{b}/USDT" for b in bases],
                     options=ConnectorOptions(audit_interval_s=None), clock=fake.now_ms)
    await conn.start()
    wanted = [s for b in bases for s in venue.streams_for(f"{b}/USDT")]
    await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted), timeout=120)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=5)
    await consumer.start()
    parts = consumer.partitions_for_topic(topics.CANDLES_1M) or set()
    tps = [TopicPartition(topics.CANDLES_1M, p) for p in sorted(parts)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    sent: dict[tuple[str, int], float] = {}
    lat: list[float] = []
    dec = msgspec.json.Decoder(Candle)
    want = symbols * minutes

    async def consume() -> None:
        while len(lat) < want:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for recs in batches.values():
                for r in recs:
                    c = dec.decode(r.value)
                    t0 = sent.get((c.symbol, c.open_time))
                    if t0 is not None:
                        lat.append((now - t0) * 1000)

    reader = asyncio.create_task(consume())
    for m in range(minutes):
        ot = start + m * 60_000
        fake.set_now(ot + 60_000)
        for b in bases:  # every symbol closes at the same instant
            row = CandleRow(ot, 100.0, 101.0, 99.0, 100.5, 10.0, 5)
            frame = fake.wrap(f"{b.lower()}usdt@kline_1m", fake.kline_payload(f"{b}USDT", row, closed=True, event_time=ot + 60_000))
            sent[(f"{b}/USDT", ot)] = time.perf_counter()
            await fake.publish(f"{b.lower()}usdt@kline_1m", frame)
        await asyncio.sleep(0.3)
    try:
        await asyncio.wait_for(reader, 60)
    finally:
        await consumer.stop()
        await conn.stop()
        await pub.stop()
        await rest.close()
        await fake.stop()
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"  closing kline frame -> candle on broker ({symbols} symbols closing together x {minutes} minutes, "
          f"{len(lat)} candles): p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat[-1]:.1f} ms")


async def bench_memory(symbols: int) -> None:
    from connectors.base import Connector
    from connectors.binance import BinanceUsdmVenue
    from streams.records import Candle, Tick

    tracemalloc.start()
    base0 = tracemalloc.get_traced_memory()[0]
    venue = BinanceUsdmVenue()
    names = [f"M{i:05d}/USDT" for i in range(symbols)]
    venue.set_symbol_map({s: s.replace("/", "") for s in names})
    conn = Connector(venue, NullPublisher(), rest=None, symbols=names)  # type: ignore[arg-type]
    conn.plan.update(names)
    for minute in range(10):
        for i, s in enumerate(names):
            ot = 1_700_000_000_000 // 60_000 * 60_000 + minute * 60_000
            await conn._on_ws_candle(Candle(exchange="binance", market="usdm", symbol=s, tf="1m", open_time=ot,
                                            close_time=ot + 59_999, open=1.0, high=1.0, low=1.0, close=1.0,
                                            volume=1.0, event_time=ot + 60_000, received_at=ot + 60_001))
            await conn._on_tick(Tick(exchange="binance", market="usdm", symbol=s, trade_id=str(minute * 10 + i),
                                     price=1.0, qty=1.0, side="buy", event_time=ot, received_at=ot))
    used = tracemalloc.get_traced_memory()[0] - base0
    tracemalloc.stop()
    shards = len(conn.plan.shards)
    print(f"  connector state: {used / symbols * 1000 / 2**20:.2f} MiB per 1,000 symbols "
          f"({symbols} symbols x {len(venue.streams_for(names[0]))} streams on {shards} connections; "
          f"recent-candle ring, dedup mask, keys, trade ids)")
    print(f"  process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.connectors")
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--symbols", type=int, default=200)
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--memory-symbols", type=int, default=5000)
    ap.add_argument("--bootstrap", default="", help="Use this broker instead of starting an embedded one.")
    args = ap.parse_args(argv)

    async def run(bootstrap: str | None) -> None:
        if bootstrap:
            from streams.kafka import create_topics
            from streams.topics import topic_specs

            await create_topics(bootstrap, topic_specs())
        print("trade frames decoded + published (one process, one event loop):")
        await bench_throughput(args.frames, bootstrap)
        if bootstrap:
            print("latency:")
            await bench_latency(bootstrap, args.symbols, args.minutes)
        print("memory:")
        await bench_memory(args.memory_symbols)

    if args.bootstrap:
        asyncio.run(run(args.bootstrap))
        return
    broker = None
    try:
        from scanflow.brokers.base import free_port
        from scanflow.brokers.embedded import EmbeddedBroker

        broker = EmbeddedBroker(Path(tempfile.mkdtemp(prefix="bench-connectors-")), free_port())
        broker.start()
        bootstrap: str | None = broker.bootstrap
    except (ImportError, OSError, RuntimeError) as exc:
        print(f"(embedded broker unavailable: {exc}; broker figures skipped)")
        bootstrap = None
    try:
        asyncio.run(run(bootstrap))
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
