"""One websocket connection carrying one shard's streams.

Lifecycle, driven by :meth:`WsConnection.run`: wait for a connection slot
(the venue's connections-per-window limit), connect, send subscribe messages
paced by the venue's messages-per-second limit, then hand every frame to the
handler until the socket closes, goes stale (no frame for ``stale_after_s``)
or is stopped; back off with jitter and start over. The handler is told about
each (re)connect so it can backfill what the outage hid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from connectors.backoff import Backoff
from connectors.clock import now_ms
from connectors.sharding import RateLimiter, SlidingWindowLimiter

if TYPE_CHECKING:
    from connectors.base.venue import Venue

log = logging.getLogger("scanflow.connectors")


class ConnectionHandler(Protocol):
    async def on_frame(self, conn: WsConnection, frame: str | bytes, received_at: int) -> None: ...

    def on_connected(self, conn: WsConnection, *, reconnect: bool) -> None: ...

    def on_disconnected(self, conn: WsConnection, reason: str) -> None: ...


class WsConnection:
    """A self-healing websocket for a set of streams (``self.streams``)."""

    def __init__(self, index: int, venue: Venue, handler: ConnectionHandler, *,
                 connect_limiter: SlidingWindowLimiter, backoff: Backoff,
                 stale_after_s: float, generation: int = 0, url_key: str = "") -> None:
        self.index = index
        self.generation = generation
        self.venue = venue
        self.url_key = url_key  # "": venue.config.ws_url; else venue.extra_ws_url(url_key)
        self.handler = handler
        self.streams: set[str] = set()
        self._connect_limiter = connect_limiter
        self._send_limiter = RateLimiter(venue.limits.client_msgs_per_second)
        self._backoff = backoff
        self.stale_after_s = stale_after_s
        self._ws: ClientConnection | None = None
        self._send_lock = asyncio.Lock()
        self._stopping = False
        self._next_request_id = 1
        self.retiring = False
        self.connects = 0
        self.connected_at: float | None = None  # monotonic
        self.last_frame_at = 0.0  # monotonic
        self.ready = asyncio.Event()  # first data frame after the latest connect
        self.messages_sent: list[float] = []  # monotonic send times (bounded below)
        self.stale_reconnects = 0

    @property
    def name(self) -> str:
        return f"{self.venue.name}#{self.index}.{self.generation}"

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def run(self) -> None:
        while not self._stopping:
            await self._connect_limiter.acquire()
            if self._stopping:
                break
            reason = "closed"
            try:
                url = self.venue.extra_ws_url(self.url_key) if self.url_key else await self.venue.resolve_connect_url()
                async with connect(url, ping_interval=self.venue.ws_ping_interval_s,
                                   ping_timeout=self.venue.ws_ping_interval_s, open_timeout=10,
                                   close_timeout=2, max_size=2**24, compression=None) as ws:
                    self._ws = ws
                    self.connected_at = time.monotonic()
                    self.last_frame_at = self.connected_at
                    self.ready.clear()
                    reconnect = self.connects > 0
                    self.connects += 1
                    await self._send_subscriptions(sorted(self.streams), subscribe=True)
                    self.handler.on_connected(self, reconnect=reconnect)
                    reason = await self._read(ws)
            except ConnectionClosed as exc:
                reason = f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                reason = f"connect failed: {type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            if self._stopping:
                break
            log.warning("%s: websocket down (%s); reconnecting", self.name, reason)
            self.handler.on_disconnected(self, reason)
            await asyncio.sleep(self._backoff.next_delay())

    async def _read(self, ws: ClientConnection) -> str:
        watchdog = asyncio.create_task(self._watch_stale(ws))
        handler = self.handler
        app_ping = asyncio.create_task(self._app_ping(ws)) if self.venue.app_ping_interval_s else None
        try:
            async for frame in ws:
                self.last_frame_at = time.monotonic()
                if not self.ready.is_set():
                    self.ready.set()
                    self._backoff.reset()
                await handler.on_frame(self, frame, now_ms())
        finally:
            watchdog.cancel()
            if app_ping is not None:
                app_ping.cancel()
        if watchdog.done() and not watchdog.cancelled() and watchdog.result():
            return watchdog.result()
        return "closed by peer" if not self._stopping else "stopped"

    async def _watch_stale(self, ws: ClientConnection) -> str:
        while True:
            await asyncio.sleep(min(1.0, self.stale_after_s / 4))
            idle = time.monotonic() - self.last_frame_at
            if idle > self.stale_after_s:
                self.stale_reconnects += 1
                msg = f"stale: no frame for {idle:.1f}s (limit {self.stale_after_s}s)"
                log.warning("%s: %s", self.name, msg)
                await ws.close(code=4000, reason="stale")
                return msg

    async def _app_ping(self, ws: ClientConnection) -> None:
        interval = self.venue.app_ping_interval_s or 20.0
        while True:
            await asyncio.sleep(interval)
            msg = self.venue.app_ping_message()
            if msg is not None:
                await self._send(ws, msg)

    async def _send(self, ws: ClientConnection, msg: str) -> None:
        await self._send_limiter.acquire()
        await ws.send(msg)
        self.messages_sent.append(time.monotonic())
        if len(self.messages_sent) > 4096:
            del self.messages_sent[:2048]

    async def _send_subscriptions(self, streams: list[str], *, subscribe: bool) -> None:
        ws = self._ws
        if ws is None or not streams:
            return
        async with self._send_lock:
            build = self.venue.subscribe_messages if subscribe else self.venue.unsubscribe_messages
            msgs = build(streams, self._next_request_id)
            self._next_request_id += len(msgs)
            for msg in msgs:
                await self._send(ws, msg)

    async def subscribe(self, streams: list[str]) -> None:
        """Add streams; sent now if connected, else on the next connect."""
        new = [s for s in streams if s not in self.streams]
        self.streams.update(new)
        with contextlib.suppress(ConnectionClosed):  # the reconnect resubscribes everything
            await self._send_subscriptions(new, subscribe=True)

    async def unsubscribe(self, streams: list[str]) -> None:
        gone = [s for s in streams if s in self.streams]
        self.streams.difference_update(gone)
        with contextlib.suppress(ConnectionClosed):  # a new connection will not subscribe them
            await self._send_subscriptions(gone, subscribe=False)

    async def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def drop(self) -> None:
        """Close the socket as if the exchange did (tests, rotation of a stuck peer)."""
        ws = self._ws
        if ws is not None:
            await ws.close(code=4001, reason="dropped")


__all__ = ["ConnectionHandler", "WsConnection"]
