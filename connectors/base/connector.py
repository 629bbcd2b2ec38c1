"""The connector: turns a :class:`Venue` into records on Kafka and never loses a candle.

Responsibilities, in the order a frame meets them:

* sharding: symbols spread over :class:`WsConnection` s within the venue's
  limits; symbols added or removed at run time (``set_symbols``, driven by
  ``control.subscriptions``) are (un)subscribed on live connections;
* decoding: ``venue.parse_frame``; malformed or unexpected frames go to
  ``deadletter`` with the raw frame and the reason, and the stream goes on;
* candles: a closed 1m candle is published once per (exchange, market,
  symbol, open_time) (:class:`CandleDedup`); a jump in open times is a gap:
  newer candles are held back while the gap is fetched over REST, so
  ``md.candles.1m`` stays in open-time order per symbol; after every
  reconnect each symbol of the connection is backfilled the same way;
* audit: every ``audit_interval_s`` the last few candles of each symbol are
  compared with REST; a differing one is republished as ``correction``;
* rotation: a connection older than the exchange's lifetime minus a margin is
  replaced by a fresh one which must deliver data before the old one closes;
* clock skew: ``received_at - event_time`` per venue (:class:`ClockSkew`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec

from connectors.backoff import Backoff
from connectors.base.connection import WsConnection
from connectors.base.publish import Publisher
from connectors.base.rest import RestClient, rest_row_to_candle
from connectors.base.venue import Venue
from connectors.clock import ClockSkew, now_ms
from connectors.dedup import CandleDedup, Seen
from connectors.records import SubscribeAck
from connectors.sharding import Shard, ShardChange, ShardPlan, SlidingWindowLimiter
from detectors.timeframes import MINUTE_MS
from streams import topics
from streams.records import Candle, FundingRate, OpenInterest, Quote, RecordError, Tick, dead_letter

log = logging.getLogger("scanflow.connectors")

_encode = msgspec.json.Encoder().encode
_REST_ERRORS: tuple[type[BaseException], ...]
try:
    import ccxt

    _REST_ERRORS = (ccxt.BaseError, OSError, TimeoutError)
except ImportError:  # pragma: no cover - ccxt is a core dependency
    _REST_ERRORS = (OSError, TimeoutError)


@dataclass
class ConnectorOptions:
    """Knobs with production defaults; tests shrink the times."""

    stale_after_s: float | None = None  # None: venue.limits.stale_after_s
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    backfill_page: int = 1000
    backfill_retries: int = 6
    backfill_retry_base_s: float = 1.0
    audit_interval_s: float | None = 300.0
    audit_lookback: int = 5
    rotate_after_s: float | None = None  # None: lifetime - margin
    rotate_ready_timeout_s: float = 30.0
    dedup_window_minutes: int = 1440


@dataclass
class ConnectorStats:
    frames: int = 0
    candles: int = 0
    ticks: int = 0
    quotes: int = 0
    funding: int = 0
    deadletters: int = 0
    duplicates_dropped: int = 0
    stale_ticks_dropped: int = 0
    gaps_detected: int = 0
    backfill_jobs: int = 0
    backfilled: int = 0
    gaps_unfilled: int = 0
    corrections: int = 0
    reconnects: int = 0
    rotations: int = 0
    subscription_changes: int = 0
    skew: ClockSkew = field(default_factory=ClockSkew)

    def snapshot(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "skew"}
        out["clock_skew"] = self.skew.snapshot()
        return out


@dataclass
class _SymbolCandles:
    """Per-symbol candle bookkeeping (bounded: ``held`` only grows during a backfill)."""

    last_open: int | None = None
    backfilling: bool = False
    held: list[Candle] = field(default_factory=list)
    recent: deque[Candle] = field(default_factory=lambda: deque(maxlen=8))
    last_trade_id: int = -1
    #: venues without ordered trade ids: the ids seen lately (a rotation overlap or a
    #: reconnect replays the same trades on two connections), oldest first
    seen_ids: dict[str, None] = field(default_factory=dict)


#: trade ids remembered per symbol for venues whose ids are not ordered
RECENT_TRADE_IDS = 4096


@dataclass
class _BackfillJob:
    symbol: str
    start: int  # first missing open time
    reason: str
    attempts: int = 0


class Connector:
    """Runs one venue: ``await connector.run()`` until ``await connector.stop()``."""

    def __init__(self, venue: Venue, publisher: Publisher, rest: RestClient, symbols: list[str], *,
                 options: ConnectorOptions | None = None, clock: Any = now_ms) -> None:
        self.venue = venue
        self.publisher = publisher
        self.rest = rest
        self.options = options or ConnectorOptions()
        self.clock = clock
        self.stats = ConnectorStats()
        self.source = f"connector:{venue.name}"
        self.plan = ShardsPerUrl(venue, venue.limits.streams_per_connection)
        self.connections: dict[int, WsConnection] = {}
        self._retiring: set[WsConnection] = set()
        self._tasks: dict[WsConnection, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._connect_limiter = SlidingWindowLimiter(venue.limits.connections_per_window,
                                                     venue.limits.connection_window_s)
        self._dedup = CandleDedup(self.options.dedup_window_minutes)
        self._candles: dict[str, _SymbolCandles] = {}
        self._keys: dict[str, bytes] = {}
        self._backfills: asyncio.Queue[_BackfillJob] = asyncio.Queue()
        self._initial_symbols = list(dict.fromkeys(symbols))
        self._stopped = asyncio.Event()
        self.failure: BaseException | None = None  # what ended a connection task (e.g. PublishError)
        self._started = False
        self._symbol_lock = asyncio.Lock()
        lim = venue.limits
        self._stale_after = self.options.stale_after_s or lim.stale_after_s
        self._rotate_after = self.options.rotate_after_s or (lim.connection_lifetime_s - lim.rotate_margin_s)

    # ---- lifecycle -------------------------------------------------------
    async def run(self) -> None:
        """Start streaming and return when :meth:`stop` is called; raise what
        ended a connection task instead (e.g. ``PublishError``: the broker does
        not take records), so the process fails loudly rather than idles."""
        await self.start()
        await self._stopped.wait()
        if self.failure is not None:
            raise self.failure

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._spawn(self._backfill_worker(), "backfill")
        self._spawn(self._rotation_loop(), "rotation")
        if self.options.audit_interval_s:
            self._spawn(self._audit_loop(self.options.audit_interval_s), "audit")
        await self.set_symbols(self._initial_symbols)

    async def stop(self) -> None:
        conns = list(self.connections.values()) + list(self._retiring)
        for conn in conns:
            await conn.stop()
        tasks = list(self._tasks.values()) + list(self._background)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.publisher.flush()
        self._stopped.set()

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{self.venue.name}:{what}")
        self._background.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed: %r", self.venue.name, task.get_name(), task.exception(),
                      exc_info=task.exception())

    # ---- subscriptions ---------------------------------------------------
    @property
    def symbols(self) -> set[str]:
        return self.plan.symbols

    async def set_symbols(self, symbols: list[str] | set[str]) -> None:
        """Stream exactly these symbols from now on (no restart)."""
        async with self._symbol_lock:
            change = self.plan.update(set(symbols))
            if change.added_symbols or change.removed_symbols:
                self.stats.subscription_changes += 1
                log.info("%s: subscriptions +%s -%s", self.venue.name, change.added_symbols, change.removed_symbols)
            for idx, streams in change.unsubscribe.items():
                conn = self.connections.get(idx)
                if conn is not None and idx not in change.emptied_shards:
                    await conn.unsubscribe(streams)
            for idx in change.emptied_shards:
                conn = self.connections.pop(idx, None)
                if conn is not None:
                    await conn.stop()
            for sym in change.removed_symbols:
                self._candles.pop(sym, None)
                self._dedup.forget(self._key(sym).decode())
            for idx, streams in change.subscribe.items():
                conn = self.connections.get(idx)
                if conn is None:
                    conn = self._new_connection(idx)
                    conn.streams.update(streams)
                    self._start_connection(conn)
                else:
                    await conn.subscribe(streams)

    def _new_connection(self, idx: int, generation: int = 0) -> WsConnection:
        conn = WsConnection(idx, self.venue, self, connect_limiter=self._connect_limiter,
                            backoff=Backoff(self.options.backoff_base_s, self.options.backoff_cap_s),
                            stale_after_s=self._stale_after, generation=generation,
                            url_key=self.plan.url_key_of(idx))
        self.connections[idx] = conn
        return conn

    def _start_connection(self, conn: WsConnection) -> None:
        task = asyncio.create_task(conn.run(), name=conn.name)
        self._tasks[conn] = task
        task.add_done_callback(lambda t, c=conn: self._connection_done(c, t))  # type: ignore[misc]

    def _connection_done(self, conn: WsConnection, task: asyncio.Task[None]) -> None:
        self._tasks.pop(conn, None)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("%s: connection task failed: %r; the connector stops", conn.name, exc, exc_info=exc)
        self.failure = self.failure or exc
        self._stopped.set()

    # ---- ConnectionHandler -----------------------------------------------
    def on_connected(self, conn: WsConnection, *, reconnect: bool) -> None:
        if not reconnect:
            return
        self.stats.reconnects += 1
        if conn.url_key != self.venue.kline_url_key:
            return  # no klines on this connection (OKX public): nothing to backfill
        shard = self.plan.shards.get(conn.index)
        if shard is None:
            return
        for symbol in shard.symbols:
            st = self._candles.get(symbol)
            if st is not None and st.last_open is not None and not st.backfilling:
                st.backfilling = True
                self._queue_backfill(_BackfillJob(symbol, st.last_open + MINUTE_MS, "reconnect"))

    def on_disconnected(self, conn: WsConnection, reason: str) -> None:
        return None

    async def on_frame(self, conn: WsConnection, frame: str | bytes, received_at: int) -> None:
        self.stats.frames += 1
        try:
            items = self.venue.parse_frame(frame, received_at)
        except RecordError as exc:
            await self._dead_letter(exc, frame, received_at, conn)
            return
        for item in items:
            cls = type(item)
            if cls is Tick:
                await self._on_tick(item)  # type: ignore[arg-type]
            elif cls is Quote:
                self.stats.quotes += 1
                await self.publisher.send(topics.QUOTES, self._key(item.symbol), _encode(item))  # type: ignore[attr-defined]
            elif cls is Candle:
                await self._on_ws_candle(item)  # type: ignore[arg-type]
            elif cls is FundingRate:
                self.stats.funding += 1
                await self.publisher.send(topics.FUNDING, self._key(item.symbol), _encode(item))  # type: ignore[attr-defined]
            elif cls is OpenInterest:
                await self.publisher.send(topics.OPEN_INTEREST, self._key(item.symbol), _encode(item))  # type: ignore[attr-defined]
            elif cls is SubscribeAck:
                if not item.ok:  # type: ignore[attr-defined]
                    await self._dead_letter(RecordError("subscribe_rejected", f"{conn.name}: {item.detail}"),  # type: ignore[attr-defined]
                                            frame, received_at, conn)
            else:
                await self._dead_letter(RecordError("unexpected_record", f"venue returned {cls.__name__}"),
                                        frame, received_at, conn)

    # ---- records -----------------------------------------------------------
    def _key(self, symbol: str) -> bytes:
        key = self._keys.get(symbol)
        if key is None:
            key = topics.market_key(self.venue.exchange, self.venue.market, symbol).encode()
            self._keys[symbol] = key
        return key

    async def _dead_letter(self, error: RecordError, frame: str | bytes, received_at: int,
                           conn: WsConnection | None = None) -> None:
        self.stats.deadletters += 1
        where = conn.name if conn is not None else self.venue.name
        log.warning("%s: dead-lettered frame: %s: %s", where, error.reason, error.detail)
        dl = dead_letter(f"{self.source}:{where}", error, frame, received_at=received_at)
        await self.publisher.send(topics.DEADLETTER, self.source.encode(), _encode(dl))

    async def _on_tick(self, tick: Tick) -> None:
        if self.venue.monotonic_trade_ids:
            st = self._state(tick.symbol)
            tid = int(tick.trade_id)
            if tid <= st.last_trade_id:
                self.stats.stale_ticks_dropped += 1
                return
            st.last_trade_id = tid
        elif tick.trade_id:
            seen = self._state(tick.symbol).seen_ids
            if tick.trade_id in seen:
                self.stats.stale_ticks_dropped += 1
                return
            seen[tick.trade_id] = None
            if len(seen) > RECENT_TRADE_IDS:
                del seen[next(iter(seen))]  # the oldest
        self.stats.ticks += 1
        self.stats.skew.observe(tick.event_time, tick.received_at)
        await self.publisher.send(topics.TICKS, self._key(tick.symbol), _encode(tick))

    def _state(self, symbol: str) -> _SymbolCandles:
        st = self._candles.get(symbol)
        if st is None:
            st = self._candles[symbol] = _SymbolCandles(recent=deque(maxlen=self.options.audit_lookback + 3))
        return st

    async def _on_ws_candle(self, candle: Candle) -> None:
        if candle.symbol not in self.plan.symbols:
            return  # a frame in flight after an unsubscribe
        self.stats.skew.observe(candle.event_time, candle.received_at)
        st = self._state(candle.symbol)
        if st.backfilling:
            st.held.append(candle)
            return
        if st.last_open is not None and candle.open_time > st.last_open + MINUTE_MS:
            self.stats.gaps_detected += 1
            log.warning("%s %s: gap in 1m candles %d..%d; backfilling over REST", self.venue.name,
                        candle.symbol, st.last_open + MINUTE_MS, candle.open_time - MINUTE_MS)
            st.backfilling = True
            st.held.append(candle)
            self._queue_backfill(_BackfillJob(candle.symbol, st.last_open + MINUTE_MS, "gap"))
            return
        await self._publish_candle(candle, st)

    async def _publish_candle(self, candle: Candle, st: _SymbolCandles, *, correction: bool = False) -> bool:
        key = self._key(candle.symbol)
        if not correction:
            seen = self._dedup.add(key.decode(), candle.open_time)
            if seen is Seen.DUPLICATE:
                self.stats.duplicates_dropped += 1
                return False
            if seen is Seen.TOO_OLD:
                await self._dead_letter(RecordError("candle_too_old", f"{candle.symbol} open_time {candle.open_time} is older than the dedup window"),
                                        _encode(candle), self.clock())
                return False
        self.stats.candles += 1
        if candle.provenance == "rest_backfill":
            self.stats.backfilled += 1
        if st.last_open is None or candle.open_time > st.last_open:
            st.last_open = candle.open_time
        if correction:
            for i, old in enumerate(st.recent):
                if old.open_time == candle.open_time:
                    st.recent[i] = candle
        else:
            st.recent.append(candle)
        await self.publisher.send(topics.CANDLES_1M, key, _encode(candle))
        return True

    # ---- backfill ----------------------------------------------------------
    def _queue_backfill(self, job: _BackfillJob) -> None:
        self.stats.backfill_jobs += 1
        self._backfills.put_nowait(job)

    async def _backfill_worker(self) -> None:
        while True:
            job = await self._backfills.get()
            if job.symbol not in self.plan.symbols:
                continue
            try:
                rows = await self._fetch_closed(job.symbol, job.start)
            except _REST_ERRORS as exc:
                job.attempts += 1
                if job.attempts <= self.options.backfill_retries:
                    delay = min(60.0, self.options.backfill_retry_base_s * 2 ** (job.attempts - 1))
                    log.warning("%s %s: backfill from %d failed (%s: %s); retry %d in %.1fs", self.venue.name,
                                job.symbol, job.start, type(exc).__name__, exc, job.attempts, delay)
                    self._spawn(self._requeue_later(job, delay), f"backfill-retry:{job.symbol}")
                else:
                    await self._give_up(job, f"{type(exc).__name__}: {exc}")
                continue
            await self._complete_backfill(job, rows)

    async def _requeue_later(self, job: _BackfillJob, delay: float) -> None:
        await asyncio.sleep(delay)
        self._backfills.put_nowait(job)

    async def _fetch_closed(self, symbol: str, start: int) -> list[Candle]:
        """Closed 1m candles from ``start`` up to now, over REST."""
        out: list[Candle] = []
        since = start
        page = self.options.backfill_page
        while True:
            now = self.clock()
            rows = await self.rest.fetch_ohlcv(symbol, since, page)
            for row in rows:
                try:
                    candle = self.rest_candle(symbol, row, now)
                except RecordError as exc:
                    await self._dead_letter(exc, msgspec.json.encode(row), now)
                    continue
                if candle is not None and candle.open_time >= since:
                    out.append(candle)
            if len(rows) < page or not out or out[-1].open_time < since:
                return out
            since = out[-1].open_time + MINUTE_MS

    def rest_candle(self, symbol: str, row: list[float], now: int, provenance: str = "rest_backfill") -> Candle | None:
        """A REST OHLCV row as a Candle, or None if it has not closed yet at ``now``."""
        return rest_row_to_candle(self.venue.exchange, self.venue.market, symbol, "1m", row, now,
                                  provenance=provenance)

    async def _complete_backfill(self, job: _BackfillJob, fetched: list[Candle]) -> None:
        st = self._state(job.symbol)
        merged: dict[int, Candle] = {c.open_time: c for c in fetched}
        for c in st.held:  # the websocket's own final candle wins over REST
            merged[c.open_time] = c
        held, st.held = st.held, []
        expected = job.start
        for open_time in sorted(merged):
            if open_time < job.start and st.last_open is not None and open_time <= st.last_open:
                await self._publish_candle(merged[open_time], st)  # dedup drops what we had
                continue
            if open_time > expected:
                # REST does not (yet) have these minutes: hold the rest and retry.
                rest = [merged[t] for t in sorted(merged) if t >= open_time]
                job.attempts += 1
                if job.attempts <= self.options.backfill_retries:
                    st.held = rest
                    delay = min(60.0, self.options.backfill_retry_base_s * 2 ** (job.attempts - 1))
                    log.warning("%s %s: REST lacks %d..%d; retry %d in %.1fs", self.venue.name, job.symbol,
                                expected, open_time - MINUTE_MS, job.attempts, delay)
                    self._spawn(self._requeue_later(_BackfillJob(job.symbol, expected, job.reason, job.attempts), delay),
                                f"backfill-retry:{job.symbol}")
                    return
                await self._report_unfilled(job.symbol, expected, open_time - MINUTE_MS, job.reason)
                expected = open_time
            await self._publish_candle(merged[open_time], st)
            expected = open_time + MINUTE_MS
        del held
        st.backfilling = False

    async def _give_up(self, job: _BackfillJob, why: str) -> None:
        st = self._state(job.symbol)
        held, st.held = sorted(st.held, key=lambda c: c.open_time), []
        end = held[0].open_time - MINUTE_MS if held else None
        await self._report_unfilled(job.symbol, job.start, end, f"{job.reason}; REST failed: {why}")
        for c in held:
            await self._publish_candle(c, st)
        st.backfilling = False

    async def _report_unfilled(self, symbol: str, start: int, end: int | None, why: str) -> None:
        self.stats.gaps_unfilled += 1
        detail = f"{self.venue.name} {symbol}: 1m candles {start}..{end if end is not None else 'now'} missing after backfill ({why})"
        log.error(detail)
        await self._dead_letter(RecordError("gap_unfilled", detail), msgspec.json.encode(
            {"symbol": symbol, "start": start, "end": end}), self.clock())

    # ---- audit -------------------------------------------------------------
    async def _audit_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.audit_once()

    async def audit_once(self) -> int:
        """Compare recent candles with REST; republish differing ones as ``correction``."""
        corrected = 0
        lookback = self.options.audit_lookback
        for symbol in sorted(self.plan.symbols):
            st = self._candles.get(symbol)
            if st is None or st.last_open is None or st.backfilling or not st.recent:
                continue
            since = st.last_open - (lookback - 1) * MINUTE_MS
            try:
                rows = await self.rest.fetch_ohlcv(symbol, since, lookback)
            except _REST_ERRORS as exc:
                log.warning("%s %s: audit fetch failed: %s: %s", self.venue.name, symbol, type(exc).__name__, exc)
                continue
            now = self.clock()
            published = {c.open_time: c for c in st.recent}
            for row in rows:
                ours = published.get(int(row[0]))
                if ours is None:
                    continue
                try:
                    theirs = self.rest_candle(symbol, row, now, provenance="correction")
                except RecordError as exc:
                    await self._dead_letter(exc, msgspec.json.encode(row), now)
                    continue
                if theirs is not None and _differs(ours, theirs):
                    log.warning("%s %s: audit found candle %d differs from REST; publishing correction",
                                self.venue.name, symbol, ours.open_time)
                    self.stats.corrections += 1
                    corrected += 1
                    await self._publish_candle(theirs, st, correction=True)
        return corrected

    # ---- rotation ----------------------------------------------------------
    async def _rotation_loop(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, max(0.05, self._rotate_after / 10)))
            now = time.monotonic()
            for idx, conn in list(self.connections.items()):
                if conn.connected_at is not None and now - conn.connected_at >= self._rotate_after and conn.ready.is_set():
                    await self.rotate(idx)

    async def rotate(self, idx: int) -> bool:
        """Replace connection ``idx`` by a fresh one without a gap: the old one
        closes only after the new one delivered data. Returns False (and keeps
        the old one) if the new one does not become ready in time."""
        old = self.connections.get(idx)
        if old is None:
            return False
        new = WsConnection(idx, self.venue, self, connect_limiter=self._connect_limiter,
                           backoff=Backoff(self.options.backoff_base_s, self.options.backoff_cap_s),
                           stale_after_s=self._stale_after, generation=old.generation + 1, url_key=old.url_key)
        new.streams.update(old.streams)
        new.connects = 0
        self._start_connection(new)
        try:
            await asyncio.wait_for(new.ready.wait(), self.options.rotate_ready_timeout_s)
        except TimeoutError:
            log.warning("%s: rotation of connection %d: replacement not ready in %.0fs; keeping the old one",
                        self.venue.name, idx, self.options.rotate_ready_timeout_s)
            await new.stop()
            return False
        if self.connections.get(idx) is not old:  # shard changed meanwhile
            await new.stop()
            return False
        # Streams subscribed on the old connection while the new one was connecting.
        missing = sorted(old.streams - new.streams)
        if missing:
            await new.subscribe(missing)
        self.connections[idx] = new
        old.retiring = True
        await old.stop()
        self.stats.rotations += 1
        log.info("%s: rotated connection %d (generation %d)", self.venue.name, idx, new.generation)
        return True


def _differs(a: Candle, b: Candle) -> bool:
    for name in ("open", "high", "low", "close", "volume"):
        x, y = getattr(a, name), getattr(b, name)
        if abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
            return True
    return False


class ShardsPerUrl:
    """One :class:`ShardPlan` per websocket URL key of the venue (``Venue.url_key``):
    the streams of a symbol that share an endpoint share a connection (OKX: the
    candle on a ``/business`` connection, trades and tickers on a ``/public``
    one). Shard indexes are unique over all keys; a single-URL venue has one
    plan and the same indexes a bare ShardPlan would give."""

    def __init__(self, venue: Venue, streams_per_connection: int) -> None:
        self._venue = venue
        self._limit = streams_per_connection
        self._plans: dict[str, ShardPlan] = {}
        self._index: dict[tuple[str, int], int] = {}  # (url key, plan index) -> shard index
        self._local: dict[int, tuple[str, int]] = {}
        self._next_index = 0
        self._symbols: set[str] = set()

    def _by_key(self, symbol: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for stream in self._venue.streams_for(symbol):
            out.setdefault(self._venue.url_key(stream), []).append(stream)
        return out

    @property
    def symbols(self) -> set[str]:
        """Symbols streamed now (the plan's own set: do not mutate)."""
        return self._symbols

    @property
    def shards(self) -> dict[int, Shard]:
        return {g: self._plans[key].shards[i] for g, (key, i) in self._local.items() if i in self._plans[key].shards}

    def url_key_of(self, index: int) -> str:
        return self._local[index][0]

    def update(self, wanted: list[str] | set[str]) -> ShardChange:
        """Like :meth:`ShardPlan.update`, per URL key; indexes in the change are global."""
        per_key: dict[str, set[str]] = {key: set() for key in self._plans}
        for symbol in set(wanted):
            for key in self._by_key(symbol):
                per_key.setdefault(key, set()).add(symbol)
        change = ShardChange()
        for key, symbols in per_key.items():
            plan = self._plans.get(key)
            if plan is None:
                def streams_on(symbol: str, key: str = key) -> list[str]:
                    return self._by_key(symbol).get(key, [])
                plan = self._plans[key] = ShardPlan(streams_on, self._limit)
            part = plan.update(symbols)
            for i in part.new_shards + list(part.subscribe):
                if (key, i) not in self._index:
                    self._index[key, i] = g = self._next_index
                    self._local[g] = (key, i)
                    self._next_index += 1
            for i, streams in part.subscribe.items():
                change.subscribe[self._index[key, i]] = streams
            for i, streams in part.unsubscribe.items():
                change.unsubscribe[self._index[key, i]] = streams
            change.new_shards += [self._index[key, i] for i in part.new_shards]
            change.emptied_shards += [self._index[key, i] for i in part.emptied_shards]
            for i in part.emptied_shards:  # plan indexes are never reused
                del self._local[self._index.pop((key, i))]
        now = {s for symbols in per_key.values() for s in symbols}
        change.added_symbols = sorted(now - self._symbols)
        change.removed_symbols = sorted(self._symbols - now)
        self._symbols = now
        return change
