"""Spread subscriptions over websocket connections within a venue's limits.

A symbol's streams (kline, trades, book ticker, ...) always live on one
connection, so a reconnect concerns whole symbols and their gap backfill is
exact. :class:`ShardPlan` is pure bookkeeping: it says which connection gets
which symbols and what to (un)subscribe; the connector does the I/O, pacing
its subscribe messages with :class:`RateLimiter` and new connections with
:class:`SlidingWindowLimiter`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Shard:
    """One connection's share: symbol -> its stream names."""

    index: int
    symbols: dict[str, list[str]] = field(default_factory=dict)

    @property
    def stream_count(self) -> int:
        return sum(len(s) for s in self.symbols.values())

    def streams(self) -> list[str]:
        return [s for streams in self.symbols.values() for s in streams]


@dataclass
class ShardChange:
    """What one call to :meth:`ShardPlan.update` changed, per shard index."""

    subscribe: dict[int, list[str]] = field(default_factory=dict)  # shard -> streams
    unsubscribe: dict[int, list[str]] = field(default_factory=dict)
    new_shards: list[int] = field(default_factory=list)
    emptied_shards: list[int] = field(default_factory=list)
    added_symbols: list[str] = field(default_factory=list)
    removed_symbols: list[str] = field(default_factory=list)


class ShardPlan:
    """Assigns symbols to connections, never exceeding ``streams_per_connection``."""

    def __init__(self, streams_for: Callable[[str], list[str]], streams_per_connection: int) -> None:
        if streams_per_connection < 1:
            raise ValueError(f"streams_per_connection must be >= 1, got {streams_per_connection}")
        self.streams_for = streams_for
        self.limit = streams_per_connection
        self.shards: dict[int, Shard] = {}
        self._where: dict[str, int] = {}
        self._next_index = 0

    @property
    def symbols(self) -> set[str]:
        return set(self._where)

    def shard_of(self, symbol: str) -> int | None:
        return self._where.get(symbol)

    def update(self, wanted: list[str] | set[str]) -> ShardChange:
        """Make the plan hold exactly ``wanted``; existing symbols stay where they are."""
        change = ShardChange()
        wanted_set = set(wanted)
        for symbol in sorted(set(self._where) - wanted_set):
            idx = self._where.pop(symbol)
            shard = self.shards[idx]
            change.unsubscribe.setdefault(idx, []).extend(shard.symbols.pop(symbol))
            change.removed_symbols.append(symbol)
            if not shard.symbols:
                del self.shards[idx]
                change.emptied_shards.append(idx)
        for symbol in sorted(wanted_set - set(self._where)):
            streams = self.streams_for(symbol)
            if len(streams) > self.limit:
                raise ValueError(f"{symbol}: needs {len(streams)} streams, over the {self.limit} per connection limit")
            room = self._shard_with_room(len(streams))
            if room is None:
                shard = Shard(self._next_index)
                self._next_index += 1
                self.shards[shard.index] = shard
                change.new_shards.append(shard.index)
            else:
                shard = room
            shard.symbols[symbol] = streams
            self._where[symbol] = shard.index
            change.subscribe.setdefault(shard.index, []).extend(streams)
            change.added_symbols.append(symbol)
        # A shard emptied and refilled in one update is neither new nor empty.
        for idx in list(change.emptied_shards):
            if idx in self.shards:
                change.emptied_shards.remove(idx)
        return change

    def _shard_with_room(self, needed: int) -> Shard | None:
        # Fill the fullest shard that still fits: fewer connections overall.
        best = None
        for shard in self.shards.values():
            room = self.limit - shard.stream_count
            if room >= needed and (best is None or shard.stream_count > best.stream_count):
                best = shard
        return best


def chunked(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class RateLimiter:
    """At most ``rate`` acquisitions per second, spaced evenly (a leaky bucket
    of size one), so a burst never exceeds a per-second limit in any window."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = self._clock()
            wait = self._next - now
            if wait > 0:
                await asyncio.sleep(wait)
                now = self._clock()
            self._next = max(now, self._next) + self.interval


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions in any ``window_s`` seconds (connection attempts)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"need limit >= 1 and window > 0, got {limit} / {window_s}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._times and now - self._times[0] >= self.window_s:
                    self._times.popleft()
                if len(self._times) < self.limit:
                    self._times.append(now)
                    return
                await asyncio.sleep(self.window_s - (now - self._times[0]) + 1e-3)
