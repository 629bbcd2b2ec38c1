"""The bundled demo market: a seeded synthetic exchange that needs no network.

Each symbol follows its own regime chain (up-trend, down-trend, mean-reverting
range, quiet) with GARCH(1,1)-style volatility clustering, so calm and wild
stretches alternate. Volume is log-normal around a per-symbol base, rises with
volatility, and now and then spikes 5-15x (news, liquidations). A few symbols are
illiquid: many flat bars and minutes with zero volume. Candles are closed 1m
bars with exchange-like timing: published a few hundred (simulated) ms after the
minute closes, in a burst across symbols.

``DemoMarket`` is pure (no I/O): ``history(minutes)`` and ``step()`` give candles.
``run_demo`` publishes them: first ``history_minutes`` of back history at full
speed (so detectors are warm at once), then live, one simulated minute every
``60 / speed`` seconds. The simulated clock starts ``catch_up_minutes`` in the
past so that an accelerated demo does not print candles from the future; once it
has caught up with the wall clock it runs in real time, each minute published
a few hundred ms after it closes, as an exchange would.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

import numpy as np

from detectors.records import Candle, encode
from detectors.timeframes import MINUTE_MS
from streams import topics
from streams.kafka import make_producer

log = logging.getLogger("scanflow.demo")

BASES = [
    "BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "TRX", "MATIC", "LTC",
    "BCH", "NEAR", "UNI", "ATOM", "XLM", "ETC", "FIL", "APT", "ARB", "OP", "INJ", "SUI", "SEI",
    "TIA", "RUNE", "AAVE", "MKR", "LDO", "IMX", "GRT", "SAND", "MANA", "AXS", "FTM", "ALGO", "EGLD",
    "HBAR", "VET", "THETA", "FLOW", "KAVA", "ZIL", "ENJ", "CHZ", "GALA", "CRV", "SNX", "COMP",
    "YFI", "SUSHI", "1INCH", "BAT", "ZRX", "KSM", "DASH", "ZEC", "XMR",
]
START_PRICE = {"BTC": 43000.0, "ETH": 2300.0, "SOL": 98.0, "BNB": 310.0, "XRP": 0.62, "DOGE": 0.085}
REGIMES = ("up", "down", "range", "quiet")
# regime transition matrix (rows: from), mean stay ~ 1/(1-p) minutes
TRANSITIONS = np.array([
    [0.985, 0.003, 0.010, 0.002],
    [0.003, 0.985, 0.010, 0.002],
    [0.006, 0.006, 0.983, 0.005],
    [0.004, 0.004, 0.012, 0.980],
])
CUM_TRANSITIONS = np.cumsum(TRANSITIONS, axis=1)
CUM_TRANSITIONS[:, -1] = 1.0


class _Symbol:
    __slots__ = ("symbol", "price", "var", "regime", "base_vol", "illiquid", "anchor", "rng")

    def __init__(self, symbol: str, price: float, base_vol: float, illiquid: bool, rng: np.random.Generator) -> None:
        self.symbol = symbol
        self.price = price
        self.var = 0.0008**2
        self.regime = int(rng.integers(0, 4))
        self.base_vol = base_vol
        self.illiquid = illiquid
        self.anchor = price
        self.rng = rng


class DemoMarket:
    """Deterministic for a given seed and start time."""

    exchange = "demo"
    market = "spot"

    def __init__(self, n_symbols: int = 40, seed: int = 7, start_ms: int | None = None) -> None:
        if not 1 <= n_symbols <= 2000:
            raise ValueError(f"demo: n_symbols must be in 1..2000, got {n_symbols}")
        master = np.random.default_rng(seed)
        self.symbols: list[_Symbol] = []
        for i in range(n_symbols):
            base = BASES[i] if i < len(BASES) else f"SYN{i:04d}"
            price = START_PRICE.get(base, float(np.exp(master.uniform(-3, 5))))
            illiquid = i >= 5 and master.random() < 0.12
            base_vol = float(np.exp(master.uniform(2, 8))) / (20 if illiquid else 1)
            self.symbols.append(_Symbol(f"{base}/USDT", price, base_vol, illiquid,
                                        np.random.default_rng([seed, i])))
        now = time.time_ns() // 1_000_000 if start_ms is None else start_ms
        self.next_open = now - now % MINUTE_MS

    def _bar(self, s: _Symbol, open_time: int) -> Candle:
        rng = s.rng
        s.regime = int(np.searchsorted(CUM_TRANSITIONS[s.regime], rng.random(), side="right"))
        regime = REGIMES[s.regime]
        # GARCH(1,1): var_t = w + a * r_{t-1}^2 + b * var_{t-1}
        shock = rng.standard_normal()
        r_prev = math.sqrt(s.var) * shock
        s.var = 2e-8 + 0.08 * r_prev * r_prev + 0.90 * s.var
        sigma = math.sqrt(s.var) * (0.25 if regime == "quiet" else 1.0)
        drift = {"up": 0.35, "down": -0.35, "range": 0.0, "quiet": 0.0}[regime] * sigma
        if regime == "range":
            drift += -0.05 * math.log(s.price / s.anchor)
        else:
            s.anchor = 0.999 * s.anchor + 0.001 * s.price
        ret = drift + sigma * rng.standard_normal()
        o = s.price
        c = o * math.exp(ret)
        wick = abs(rng.standard_normal()) * sigma * 0.6
        h = max(o, c) * math.exp(wick)
        lo = min(o, c) * math.exp(-abs(rng.standard_normal()) * sigma * 0.6)
        vol = s.base_vol * math.exp(0.5 * rng.standard_normal()) * (1 + 400 * abs(ret))
        if rng.random() < 0.006:
            vol *= rng.uniform(5, 15)  # a surge
            big = rng.choice((-1.0, 1.0)) * sigma * rng.uniform(2, 5)
            c = o * math.exp(big)
            h, lo = max(h, o, c), min(lo, o, c)
        if s.illiquid and rng.random() < 0.35:
            c = h = lo = o  # no trade this minute: explicit flat bar
            vol = 0.0
        s.price = c
        return Candle(
            exchange=self.exchange, market=self.market, symbol=s.symbol, tf="1m",
            open_time=open_time, close_time=open_time + MINUTE_MS - 1,
            open=_r(o), high=_r(h), low=_r(lo), close=_r(c), volume=round(vol, 4),
            quote_volume=round(vol * c, 4), trades=int(vol > 0) * int(5 + vol ** 0.5),
            provenance="demo", event_time=open_time + MINUTE_MS - 1,
            received_at=open_time + MINUTE_MS + int(rng.integers(20, 400)),
        )

    def step(self) -> list[Candle]:
        """Close the current minute for every symbol."""
        ot = self.next_open
        self.next_open += MINUTE_MS
        return [self._bar(s, ot) for s in self.symbols]

    def history(self, minutes: int) -> list[list[Candle]]:
        """Rewind the clock ``minutes`` and generate them (back history)."""
        self.next_open -= minutes * MINUTE_MS
        return [self.step() for _ in range(minutes)]


def _r(x: float) -> float:
    """Round to a price tick of ~6 significant digits, like an exchange would."""
    if x <= 0:
        return x
    digits = max(0, 5 - int(math.floor(math.log10(x))))
    return round(x, digits)


async def _stopped_within(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep ``seconds`` (if positive); True as soon as ``stop`` is set."""
    if stop is None:
        if seconds > 0:
            await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
        return True
    except TimeoutError:
        return stop.is_set()


async def run_demo(bootstrap: str, *, n_symbols: int = 40, seed: int = 7, speed: float = 60.0,
                   history_minutes: int = 360, max_minutes: int | None = None,
                   catch_up_minutes: int = 24 * 60,
                   stop: asyncio.Event | None = None,
                   on_minute: Callable[[int, int], None] | None = None) -> int:
    """Publish the demo market until ``stop`` is set (or ``max_minutes`` live minutes).
    Returns the number of candles published."""
    if speed <= 0:
        raise ValueError(f"demo: speed must be > 0, got {speed}")
    now = time.time_ns() // 1_000_000
    market = DemoMarket(n_symbols, seed, start_ms=now - catch_up_minutes * MINUTE_MS)
    producer = make_producer(bootstrap, client_id="scanflow-demo")
    await producer.start()
    published = 0

    async def publish(candles: list[Candle]) -> None:
        nonlocal published
        futs = [await producer.send(topics.CANDLES_1M, encode(c), key=c.key.encode()) for c in candles]
        await asyncio.gather(*futs)
        published += len(candles)

    try:
        batch: list[Candle] = []
        for minute in market.history(history_minutes):
            batch.extend(minute)
            if len(batch) >= 5000:
                await publish(batch)
                batch = []
        if batch:
            await publish(batch)
        log.info("demo: published %d minutes of history for %d symbols", history_minutes, n_symbols)
        live = 0
        interval = 60.0 / speed
        next_at = time.monotonic()
        while not (stop and stop.is_set()) and (max_minutes is None or live < max_minutes):
            next_at += interval
            if await _stopped_within(next_at - time.monotonic(), stop):
                break
            # never publish a minute before it has closed on the wall clock
            ahead_s = (market.next_open + MINUTE_MS + 250 - time.time_ns() // 1_000_000) / 1000
            if ahead_s > 0:
                if await _stopped_within(ahead_s, stop):
                    break
                next_at = time.monotonic()
            await publish(market.step())
            live += 1
            if on_minute:
                on_minute(live, published)
    finally:
        await producer.stop()
    return published
