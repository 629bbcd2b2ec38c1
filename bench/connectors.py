"""Connector benchmarks per venue: ``scanflow bench connectors`` or
``python -m bench.connectors [--venues a,b] [--frames N] [--symbols N] [--minutes N]
[--memory-symbols N] [--broker embedded|kafka|none] [--bootstrap HOST:PORT]``.

For every venue in ``connectors.registry.venue_names()`` that has a frame
generator (:class:`VenueFrames`, registered in ``FRAME_GENERATORS`` under the
exchange part of the venue name), prints

1. trade frames per second one process decodes and publishes (one core):
   real BTCUSDT trades (hftbacktest captures; Binance's own frames verbatim,
   the other venues' frames built from the same trades in their wire format
   by their fake exchange) through ``Connector.on_frame`` into (a) a null
   publisher (decode + convert + encode) and (b) the broker through
   ``KafkaPublisher`` (batches per partition); wall clock and per CPU-second
   of this process (the broker runs in its own process);
2. time from a fake exchange's closing kline frame (sent on loopback) to the
   candle on the broker (read back by a consumer in the same process),
   p50/p99, with every symbol closing at the same instant (a boundary burst);
3. Python memory per 1,000 subscribed symbols: venue + connector state
   (symbol maps, shard plan, candle rings, dedup masks, keys, trade ids, open
   klines) after ten minutes of candles and trades for every symbol,
   tracemalloc; websocket buffers of live connections are not included.

A new venue joins with one :class:`VenueFrames` subclass (how to build its
fake exchange, a trade frame and a closing kline frame) and one line in
``FRAME_GENERATORS``; venues without one are listed as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gzip
import re
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import msgspec

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the fake exchanges live under tests/
    sys.path.insert(0, str(ROOT))

Frame = str | bytes


class NullPublisher:
    def __init__(self) -> None:
        self.count = 0

    async def start(self) -> None: ...

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.count += 1

    async def flush(self) -> None: ...

    async def stop(self) -> None: ...


# ---- real trades -------------------------------------------------------------
@dataclass(frozen=True)
class RealTrade:
    price: float
    qty: float
    ts: int
    buyer_maker: bool


def _hftbacktest(market: str) -> Path:
    from tests.market import shared_market_dir

    name = "btcusdt_20240809.gz" if market == "spot" else "btcusdt_20240808.gz"
    return shared_market_dir() / "hftbacktest" / market / name


_RAW_TRADES: dict[str, list[str]] = {}


def binance_trade_frames(market: str) -> list[str]:
    """Binance ``@trade`` frames of the hftbacktest capture (spot or usdm), as received."""
    if market not in _RAW_TRADES:
        with gzip.open(_hftbacktest(market), "rt") as fh:
            _RAW_TRADES[market] = [line.split(" ", 1)[1].strip() for line in fh if "@trade" in line]
    return _RAW_TRADES[market]


def real_trades(n: int) -> list[RealTrade]:
    """``n`` real BTCUSDT spot trades (cycled), with strictly increasing times."""
    dec = msgspec.json.Decoder()
    raw = binance_trade_frames("spot")
    base = [dec.decode(f)["data"] for f in raw[: min(len(raw), n)]]
    out = []
    for i in range(n):
        d = base[i % len(base)]
        out.append(RealTrade(float(d["p"]), float(d["q"]), int(d["T"]) + i // len(base), bool(d["m"])))
    return out


# ---- frame generators per venue ----------------------------------------------------
class VenueFrames(ABC):
    """How the bench drives one venue: its fake exchange (tests/connectors/fakes)
    and frames in the venue's wire format. Subclass per exchange."""

    def __init__(self, venue: str) -> None:
        from connectors.registry import venue_class

        self.venue = venue
        self.venue_cls = venue_class(venue)
        self.market = venue.partition("-")[2]

    @abstractmethod
    def make_fake(self) -> Any:
        """The venue's fake exchange, not started."""

    def ws_url(self, fake: Any) -> str:
        return fake.ws_url

    def prepare(self, venue: Any, fake: Any, symbols: dict[str, str]) -> None:
        """What loading markets would teach ``venue`` (runs without REST):
        ``symbols`` maps unified symbols to the fake's native ids."""
        venue.set_symbol_map(symbols)
        if hasattr(venue, "set_contract_sizes"):  # derivatives: sizes arrive in contracts
            venue.set_contract_sizes({n: fake.contract_size(n) for n in symbols.values()})

    def venue_config(self, fake: Any, channels: tuple[str, ...]) -> Any:
        """The venue's settings pointing at the started ``fake``."""
        from connectors.base import VenueConfig

        return VenueConfig(self.ws_url(fake), fake.rest_url, channels=channels)

    @abstractmethod
    def trade_frame(self, fake: Any, native: str, trade: RealTrade) -> Frame:
        """One frame carrying one trade (the fake numbers trade ids upwards)."""

    @abstractmethod
    def closing_kline(self, fake: Any, native: str, row: Any) -> tuple[list[tuple[str, Frame]], tuple[str, Frame]]:
        """``(prelude, closing)``: frames sent before the minute's end (not timed),
        and the ``(stream, frame)`` that closes ``row``'s candle (timed)."""

    def trade_frames(self, fake: Any, native: str, n: int) -> list[Frame]:
        return [self.trade_frame(fake, native, t) for t in real_trades(n)]


class BinanceFrames(VenueFrames):
    def make_fake(self) -> Any:
        from tests.connectors.fakes.binance import FakeBinance

        return FakeBinance(self.market, max_msgs_per_second=10_000)

    def trade_frame(self, fake: Any, native: str, trade: RealTrade) -> Frame:
        stream, payload = fake.trade_payload(native, trade.price, trade.qty, trade.ts, trade.buyer_maker)
        return fake.wrap(stream, payload)

    def trade_frames(self, fake: Any, native: str, n: int) -> list[Frame]:
        """The captured frames verbatim, trade ids renumbered so none is a repeat."""
        raw = binance_trade_frames(self.market)
        tid = re.compile(r'"t":\d+')
        return [tid.sub(f'"t":{i + 1}', raw[i % len(raw)], count=1) for i in range(n)]

    def closing_kline(self, fake: Any, native: str, row: Any) -> tuple[list[tuple[str, Frame]], tuple[str, Frame]]:
        stream = f"{native.lower()}@kline_1m"
        return [], (stream, fake.wrap(stream, fake.kline_payload(native, row, closed=True, event_time=row.close_time + 1)))


class BybitFrames(VenueFrames):
    def make_fake(self) -> Any:
        from tests.connectors.fakes.bybit import FakeBybit

        return FakeBybit(self.market)

    def trade_frame(self, fake: Any, native: str, trade: RealTrade) -> Frame:
        stream = f"publicTrade.{native}"
        side = "Sell" if trade.buyer_maker else "Buy"
        return fake.wrap(stream, fake.trade_payload(native, trade.price, trade.qty, trade.ts, side))

    def closing_kline(self, fake: Any, native: str, row: Any) -> tuple[list[tuple[str, Frame]], tuple[str, Frame]]:
        stream = f"kline.1.{native}"
        return [], (stream, fake.wrap(stream, fake.kline_payload(row, confirm=True, ts=row.close_time + 1)))


class GateioFrames(VenueFrames):
    def make_fake(self) -> Any:
        from tests.connectors.fakes.gateio import FakeGateio

        return FakeGateio(self.market)

    def trade_frame(self, fake: Any, native: str, trade: RealTrade) -> Frame:
        fake.set_now(trade.ts)
        stream = f"{fake.prefix}.trades:{native}"
        return fake.wrap(stream, fake.trade(native, trade.price, trade.qty, trade.ts, taker_sells=trade.buyer_maker))

    def closing_kline(self, fake: Any, native: str, row: Any) -> tuple[list[tuple[str, Frame]], tuple[str, Frame]]:
        fake.set_now(row.close_time + 1)
        stream = f"{fake.prefix}.candlesticks:1m_{native}"
        return [], (stream, fake.wrap(stream, fake.candlestick(native, row, closed=True)))


class KucoinFrames(VenueFrames):
    """KuCoin klines have no close flag: the next window's first push closes a candle."""

    def make_fake(self) -> Any:
        from tests.connectors.fakes.kucoin import FakeKucoin

        return FakeKucoin(self.market)

    def ws_url(self, fake: Any) -> str:
        return self.venue_cls.default_ws_url  # the real URL comes from bullet-public on the fake's REST

    def trade_frame(self, fake: Any, native: str, trade: RealTrade) -> Frame:
        stream, payload = fake.trade(native, trade.price, trade.qty, trade.ts, taker_sells=trade.buyer_maker)
        return fake.wrap(stream, payload)

    def closing_kline(self, fake: Any, native: str, row: Any) -> tuple[list[tuple[str, Frame]], tuple[str, Frame]]:
        from tests.connectors.fakes.exchange import CandleRow

        stream = fake.kline_topic(native)
        last = fake.wrap(stream, fake.candle_push(native, row, row.close_time - 500))
        nxt = CandleRow(row.close_time + 1, row.close, row.close, row.close, row.close, 0.0)
        return [(stream, last)], (stream, fake.wrap(stream, fake.candle_push(native, nxt, nxt.open_time + 1)))


class OkxFrames(VenueFrames):
    """Candles on the ``/business`` endpoint, trades on ``/public`` (one fake serves both)."""

    def make_fake(self) -> Any:
        from tests.connectors.fakes.okx import FakeOkx

        return FakeOkx("SWAP" if self.market == "swap" else "SPOT")

    def venue_config(self, fake: Any, channels: tuple[str, ...]) -> Any:
        from connectors.base import VenueConfig

        return VenueConfig(fake.ws_url, fake.rest_url, channels=channels,
                           extra_ws_urls={"business": fake.business_ws_url})

    def trade_frame(self, fake: Any, native: str, trade: RealTrade) -> Frame:
        side = "sell" if trade.buyer_maker else "buy"
        return fake.wrap(f"trades:{native}", fake.trade_payload(native, trade.price, trade.qty, trade.ts, side))

    def closing_kline(self, fake: Any, native: str, row: Any) -> tuple[list[tuple[str, Frame]], tuple[str, Frame]]:
        stream = f"candle1m:{native}"
        return [], (stream, fake.wrap(stream, fake.candle_payload(native, row, confirm=True)))


class MexcFrames(VenueFrames):
    """Spot frames are protobuf (binary). No close flag: the next window's first push closes a candle."""

    def make_fake(self) -> Any:
        from tests.connectors.fakes.mexc import FakeMexc

        return FakeMexc(self.market)

    def trade_frame(self, fake: Any, native: str, trade: RealTrade) -> Frame:
        fake.set_now(trade.ts)
        stream, payload = fake.trade(native, trade.price, trade.qty, trade.ts, taker_sells=trade.buyer_maker)
        return fake.wrap(stream, payload)

    def trade_frames(self, fake: Any, native: str, n: int) -> list[Frame]:
        """One deal per push. Spot deals carry no id: MEXC pushes every deal of a
        100 ms window in one frame, so two real deals equal in every field (same
        millisecond) arrive in the same push and are told apart there; sent one per
        frame, such a repeat is moved 1 ms later so it stays a distinct trade."""
        out: list[Frame] = []
        seen: set[tuple[int, float, float, bool]] = set()
        for t in real_trades(n):
            while (t.ts, t.price, t.qty, t.buyer_maker) in seen:
                t = dataclasses.replace(t, ts=t.ts + 1)
            seen.add((t.ts, t.price, t.qty, t.buyer_maker))
            out.append(self.trade_frame(fake, native, t))
        return out

    def closing_kline(self, fake: Any, native: str, row: Any) -> tuple[list[tuple[str, Frame]], tuple[str, Frame]]:
        from tests.connectors.fakes.exchange import CandleRow

        stream = fake.kline_stream(native)
        fake.set_now(row.close_time - 500)
        last = fake.wrap(stream, fake.kline_push(native, row))
        nxt = CandleRow(row.close_time + 1, row.close, row.close, row.close, row.close, 0.0)
        fake.set_now(nxt.open_time + 1_000)
        return [(stream, last)], (stream, fake.wrap(stream, fake.kline_push(native, nxt)))


#: exchange part of the venue name -> its frame generator
FRAME_GENERATORS: dict[str, type[VenueFrames]] = {
    "binance": BinanceFrames,
    "bybit": BybitFrames,
    "gateio": GateioFrames,
    "kucoin": KucoinFrames,
    "mexc": MexcFrames,
    "okx": OkxFrames,
}


def frames_for(venue: str) -> VenueFrames | None:
    cls = FRAME_GENERATORS.get(venue.partition("-")[0])
    return cls(venue) if cls is not None else None


async def send_frame(fake: Any, stream: str, frame: Frame) -> None:
    """Send ``frame`` verbatim to every subscriber of ``stream`` (text or binary)."""
    from websockets.exceptions import ConnectionClosed

    for client in fake.subscribers(stream):
        with contextlib.suppress(ConnectionClosed):  # a client gone meanwhile: the run reports missing candles
            await client.ws.send(frame)


# ---- 1. throughput -------------------------------------------------------------
@dataclass
class Throughput:
    frames: int
    wall_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.frames / self.wall_s

    @property
    def per_cpu_s(self) -> float:
        return self.frames / self.cpu_s


async def bench_throughput(vf: VenueFrames, frames_n: int, publisher: Any) -> Throughput:
    from connectors.base import Connector

    fake = vf.make_fake()
    native = fake.list_symbol("BTC", "USDT")
    frames = vf.trade_frames(fake, native, frames_n)
    venue = vf.venue_cls()
    vf.prepare(venue, fake, {"BTC/USDT": native})
    conn = Connector(venue, publisher, rest=None, symbols=["BTC/USDT"])  # type: ignore[arg-type]
    conn.plan.update(["BTC/USDT"])
    await publisher.start()
    on_frame, now = conn.on_frame, time.time_ns
    cpu0, t0 = time.process_time(), time.perf_counter()
    for f in frames:
        await on_frame(None, f, now() // 1_000_000)  # type: ignore[arg-type]
    await publisher.flush()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await publisher.stop()
    if conn.stats.ticks != len(frames) or conn.stats.deadletters:
        raise RuntimeError(f"{vf.venue}: {len(frames)} trade frames gave {conn.stats.snapshot()}")
    return Throughput(len(frames), wall, cpu)


# ---- 2. latency --------------------------------------------------------------------
@dataclass
class Latency:
    candles: int
    p50_ms: float
    p99_ms: float
    max_ms: float


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (meta,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = sorted(p["partition"] for p in meta.get("partitions", []))
    if not parts:
        raise RuntimeError(f"{topic} has no partitions on {bootstrap}: {meta}")
    return parts


async def bench_latency(vf: VenueFrames, bootstrap: str, symbols: int, minutes: int) -> Latency:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from connectors.base import CcxtRest, Connector, ConnectorOptions, KafkaPublisher
    from streams import topics
    from streams.records import Candle
    from tests.connectors.fakes.exchange import CandleRow

    fake = vf.make_fake()
    await fake.start()
    bases = [f"L{i:04d}" for i in range(symbols)]
    natives = {b: fake.list_symbol(b, "USDT") for b in bases}
    start = (time.time_ns() // 1_000_000) // 60_000 * 60_000 - 10 * 60_000 * minutes
    fake.set_now(start)
    venue = vf.venue_cls(vf.venue_config(fake, ("kline",)))
    rest = CcxtRest(venue)
    pub = KafkaPublisher(bootstrap)
    conn = None
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=5)
    sent: dict[tuple[str, int], float] = {}
    lat: list[float] = []
    want = symbols * minutes
    try:
        await rest.load_markets()
        await pub.start()
        conn = Connector(venue, pub, rest, [f"{b}/USDT" for b in bases],
                         options=ConnectorOptions(audit_interval_s=None), clock=fake.now_ms)
        await conn.start()
        wanted = [s for b in bases for s in venue.streams_for(f"{b}/USDT")]
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted), timeout=120)
        await consumer.start()
        tps = [TopicPartition(topics.CANDLES_1M, p) for p in await topic_partitions(bootstrap, topics.CANDLES_1M)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        dec = msgspec.json.Decoder(Candle)
        exchange, market = venue.exchange, venue.market

        async def consume() -> None:
            while len(lat) < want:
                batches = await consumer.getmany(timeout_ms=50)
                now = time.perf_counter()
                for recs in batches.values():
                    for r in recs:
                        c = dec.decode(r.value)
                        if c.exchange != exchange or c.market != market:
                            continue
                        t0 = sent.pop((c.symbol, c.open_time), None)
                        if t0 is not None:
                            lat.append((now - t0) * 1000)

        reader = asyncio.create_task(consume())
        for m in range(minutes):
            ot = start + m * 60_000
            row = CandleRow(ot, 100.0, 101.0, 99.0, 100.5, 10.0, 5)
            fake.set_now(ot + 59_000)
            closing = []
            for b in bases:
                prelude, close = vf.closing_kline(fake, natives[b], row)
                for stream, frame in prelude:
                    await send_frame(fake, stream, frame)
                closing.append((b, close))
            await asyncio.sleep(0.1)  # the prelude is processed before the boundary
            fake.set_now(ot + 60_000)
            for b, (stream, frame) in closing:  # every symbol closes at the same instant
                sent[(f"{b}/USDT", ot)] = time.perf_counter()
                await send_frame(fake, stream, frame)
            await asyncio.sleep(0.3)
        try:
            await asyncio.wait_for(reader, 60)
        except TimeoutError:
            raise RuntimeError(f"{vf.venue}: {len(lat)} of {want} candles reached the broker in time; "
                               f"connector stats {conn.stats.snapshot()}") from None
    finally:
        await consumer.stop()
        if conn is not None:
            await conn.stop()
        await pub.stop()
        await rest.close()
        await fake.stop()
    lat.sort()
    return Latency(len(lat), statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))], lat[-1])


# ---- 3. memory -----------------------------------------------------------------------
async def bench_memory(vf: VenueFrames, symbols: int, minutes: int = 10) -> float:
    """MiB of Python memory per 1,000 subscribed symbols (venue + connector state)."""
    from connectors.base import Connector
    from tests.connectors.fakes.exchange import CandleRow

    fake = vf.make_fake()
    names = [f"M{i:05d}/USDT" for i in range(symbols)]
    natives = {s: fake.list_symbol(s.split("/")[0], "USDT") for s in names}
    start = 1_700_000_000_000 // 60_000 * 60_000
    frames: list[tuple[Frame, int]] = []  # built first: not part of the measurement
    trades = real_trades(symbols)
    for m in range(minutes):
        ot = start + m * 60_000
        row = CandleRow(ot, 100.0, 101.0, 99.0, 100.5, 10.0, 5)
        for i, s in enumerate(names):
            t = trades[i]
            frames.append((vf.trade_frame(fake, natives[s], RealTrade(t.price, t.qty, ot + 1_000, t.buyer_maker)), ot + 1_000))
            prelude, (_, closing) = vf.closing_kline(fake, natives[s], row)
            frames += [(f, ot + 59_500) for _, f in prelude]
            frames.append((closing, ot + 60_001))
    tracemalloc.start()
    base0 = tracemalloc.get_traced_memory()[0]
    venue = vf.venue_cls()
    vf.prepare(venue, fake, natives)
    conn = Connector(venue, NullPublisher(), rest=None, symbols=names)  # type: ignore[arg-type]
    conn.plan.update(names)
    for frame, received_at in frames:
        await conn.on_frame(None, frame, received_at)  # type: ignore[arg-type]
    used = tracemalloc.get_traced_memory()[0] - base0
    tracemalloc.stop()
    if conn.stats.candles < symbols * (minutes - 1) or conn.stats.ticks < symbols * minutes or conn.stats.deadletters:
        raise RuntimeError(f"{vf.venue}: memory run decoded {conn.stats.snapshot()}")
    return used / symbols * 1000 / 2**20


# ---- driver --------------------------------------------------------------------------
@dataclass
class VenueResult:
    venue: str
    null: Throughput | None = None
    broker: Throughput | None = None
    latency: Latency | None = None
    mib_per_1k: float | None = None
    error: str | None = None


class Bench:
    headers: ClassVar[tuple[str, ...]] = ("venue", "decode only /CPU-s", "published wall /s", "published /CPU-s",
                                          "close->broker p50", "p99", "MiB/1k symbols")

    def __init__(self, args: argparse.Namespace, bootstrap: str | None, broker_label: str) -> None:
        self.args = args
        self.bootstrap = bootstrap
        self.broker_label = broker_label

    async def run_venue(self, vf: VenueFrames) -> VenueResult:
        from connectors.base import KafkaPublisher

        a = self.args
        res = VenueResult(vf.venue)
        try:
            res.null = await bench_throughput(vf, a.frames, NullPublisher())
            if self.bootstrap:
                res.broker = await bench_throughput(vf, a.frames, KafkaPublisher(self.bootstrap))
                res.latency = await bench_latency(vf, self.bootstrap, a.symbols, a.minutes)
            res.mib_per_1k = await bench_memory(vf, a.memory_symbols)
        except Exception as exc:  # one venue failing is reported in its row; the others still run
            res.error = f"{type(exc).__name__}: {exc}"
        return res

    async def run(self, venues: list[str]) -> list[VenueResult]:
        if self.bootstrap:
            from streams.kafka import create_topics
            from streams.topics import topic_specs

            await create_topics(self.bootstrap, topic_specs())
        results = []
        for name in venues:
            vf = frames_for(name)
            if vf is None:
                print(f"  {name}: skipped (no frame generator: add a VenueFrames to bench.connectors.FRAME_GENERATORS)",
                      flush=True)
                continue
            r = await self.run_venue(vf)
            print("  " + format_row(r), flush=True)
            results.append(r)
        return results


def format_row(r: VenueResult) -> str:
    def n(x: float | None, fmt: str = "{:,.0f}") -> str:
        return fmt.format(x) if x is not None else "-"

    cells = [r.venue, n(r.null.per_cpu_s if r.null else None), n(r.broker.per_s if r.broker else None),
             n(r.broker.per_cpu_s if r.broker else None), n(r.latency.p50_ms if r.latency else None, "{:.1f} ms"),
             n(r.latency.p99_ms if r.latency else None, "{:.1f} ms"), n(r.mib_per_1k, "{:.2f}")]
    return _line(cells) + (f"  ERROR {r.error}" if r.error else "")


def _line(cells: list[str] | tuple[str, ...]) -> str:
    return "  ".join(f"{c:>{max(10, len(h))}}" if i else f"{c:<14}" for i, (c, h) in enumerate(zip(cells, Bench.headers, strict=True)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.connectors", description=__doc__.split("\n\n")[0])
    ap.add_argument("--venues", default="", help="Comma-separated venue names (default: every registered venue).")
    ap.add_argument("--frames", type=int, default=100_000, help="Trade frames per throughput run.")
    ap.add_argument("--symbols", type=int, default=200, help="Symbols closing together in the latency run.")
    ap.add_argument("--minutes", type=int, default=10, help="Boundary bursts in the latency run.")
    ap.add_argument("--memory-symbols", type=int, default=2000)
    ap.add_argument("--broker", choices=["embedded", "kafka", "none"], default="embedded",
                    help="Broker started for the run (kafka: Apache Kafka via scanflow.brokers).")
    ap.add_argument("--bootstrap", default="", help="Use this running broker instead of starting one.")
    args = ap.parse_args(argv)

    from connectors.registry import venue_names

    venues = [v.strip() for v in args.venues.split(",") if v.strip()] or venue_names()
    broker = None
    bootstrap: str | None = args.bootstrap or None
    label = f"broker at {bootstrap}" if bootstrap else args.broker
    if bootstrap is None and args.broker != "none":
        from scanflow.brokers import make_broker
        from scanflow.brokers.base import free_port

        broker = make_broker(args.broker, free_port(consecutive=2), Path(tempfile.mkdtemp(prefix="bench-connectors-")))
        broker.start()
        bootstrap = broker.bootstrap
    print(f"connector benchmark: {args.frames:,} trade frames per run, {args.symbols} symbols x {args.minutes} "
          f"boundary bursts, memory at {args.memory_symbols:,} symbols; broker: {label}")
    print("  " + _line(Bench.headers))
    try:
        results = asyncio.run(Bench(args, bootstrap, label).run(venues))
    finally:
        if broker is not None:
            broker.stop()
    print(f"  process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if any(r.error for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
