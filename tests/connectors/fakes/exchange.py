"""The reusable part of every fake exchange.

:class:`FakeExchange` runs a websocket server (``websockets``) and a REST
server (aiohttp) on loopback ports chosen by the OS, keeps a virtual clock
(``now_ms``) and a 1m candle store per symbol, tracks each client's
subscriptions and message rate, and enforces the venue's limits the way the
exchange does (a client over the limit is disconnected and the violation is
recorded, so tests can assert there were none). A venue subclass implements
``on_client_message`` (subscribe/unsubscribe/ping with acks), ``wrap`` (how a
data frame is framed) and ``rest_routes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.market import shared_market_dir  # noqa: F401 - re-exported for the venue fakes

MINUTE_MS = 60_000




@dataclass(frozen=True)
class CandleRow:
    """A 1m candle as the exchange stores it."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int = 0

    @property
    def close_time(self) -> int:
        return self.open_time + MINUTE_MS - 1

    @property
    def quote_volume(self) -> float:
        return round(self.volume * (self.open + self.close) / 2, 8)


@dataclass
class FakeClient:
    ws: ServerConnection
    path: str
    streams: set[str] = field(default_factory=set)
    received: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, message)
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    max_streams_seen: int = 0


@dataclass
class Violation:
    kind: str  # "rate" | "streams"
    detail: str


class FakeExchange:
    """Base fake: servers, clock, candles, clients, limits, failure switches."""

    def __init__(self, *, max_streams_per_connection: int, max_msgs_per_second: float,
                 ping_interval_s: float | None = 20.0, start_ms: int = 0) -> None:
        self.max_streams = max_streams_per_connection
        self.max_rate = max_msgs_per_second
        self.ping_interval_s = ping_interval_s
        self.now_ms_value = start_ms
        self.candles: dict[str, dict[int, CandleRow]] = {}
        self.clients: list[FakeClient] = []
        self.all_clients: list[FakeClient] = []
        self.violations: list[Violation] = []
        self.refusing = False
        self.connections_accepted = 0
        self.connections_refused = 0
        self.rest_requests: list[tuple[str, dict[str, str]]] = []
        self._ws_server: Server | None = None
        self._runner: web.AppRunner | None = None
        self.ws_port = 0
        self.rest_port = 0
        self._changed = asyncio.Event()

    # ---- clock -----------------------------------------------------------
    def now_ms(self) -> int:
        """The exchange's clock (tests hand this to the connector)."""
        return self.now_ms_value

    def set_now(self, ms: int) -> None:
        self.now_ms_value = ms

    # ---- servers ---------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    async def start(self) -> FakeExchange:
        self._ws_server = await serve(self._serve_client, "127.0.0.1", 0, process_request=self._process_request,
                                      ping_interval=self.ping_interval_s, compression=None, max_size=2**22)
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]  # type: ignore[index]
        app = web.Application()
        app.middlewares.append(self._log_request)
        for method, path, handler in self.rest_routes():
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.rest_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        await self.drop_all()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeExchange:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @web.middleware
    async def _log_request(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.rest_requests.append((request.path, dict(request.query)))
        return await handler(request)

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.refusing:
            self.connections_refused += 1
            return Response(503, "Service Unavailable", Headers([("Content-Length", "0")]), b"")
        return None

    async def _serve_client(self, ws: ServerConnection) -> None:
        client = FakeClient(ws=ws, path=ws.request.path if ws.request else "/")
        self.connections_accepted += 1
        self.clients.append(client)
        self.all_clients.append(client)
        self.on_client_connected(client)
        self._changed.set()
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                now = time.monotonic()
                client.received.append((now, text))
                client.recent.append(now)
                window = [t for t in client.recent if now - t < 1.0]
                if len(window) > self.max_rate:
                    self.violations.append(Violation("rate", f"{len(window)} messages in 1 s on {client.path}"))
                    await ws.close(1008, "too many requests")
                    break
                await self.on_client_message(client, text)
                client.max_streams_seen = max(client.max_streams_seen, len(client.streams))
                if len(client.streams) > self.max_streams:
                    self.violations.append(Violation("streams", f"{len(client.streams)} streams on one connection"))
                    await ws.close(1008, "too many streams")
                    break
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.clients.remove(client)
            self._changed.set()

    # ---- failure switches --------------------------------------------------
    async def drop_all(self, *, refuse: bool = False) -> None:
        """Close every client connection (as an exchange restart does)."""
        self.refusing = refuse
        for client in list(self.clients):
            with contextlib.suppress(ConnectionClosed):
                await client.ws.close(1001, "going away")
        self.clients.clear()

    def accept(self) -> None:
        self.refusing = False

    async def wait_until(self, predicate: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - test helper
        async def _loop() -> None:
            while not predicate():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)
        await asyncio.wait_for(_loop(), timeout)

    # ---- streaming ---------------------------------------------------------
    def subscribers(self, stream: str) -> list[FakeClient]:
        return [c for c in self.clients if stream in c.streams]

    async def publish(self, stream: str, payload: dict[str, Any] | str) -> int:
        """Send one data frame to every subscriber of ``stream``; returns how many got it."""
        frame = payload if isinstance(payload, str) else self.wrap(stream, payload)
        sent = 0
        for client in self.subscribers(stream):
            with contextlib.suppress(ConnectionClosed):
                await client.ws.send(frame)
                sent += 1
        return sent

    async def send_raw(self, frame: str) -> None:
        """Send ``frame`` verbatim to every connected client (malformed-frame tests)."""
        for client in list(self.clients):
            with contextlib.suppress(ConnectionClosed):
                await client.ws.send(frame)

    # ---- candles -----------------------------------------------------------
    def add_candles(self, native_symbol: str, rows: list[CandleRow]) -> None:
        store = self.candles.setdefault(native_symbol, {})
        for r in rows:
            store[r.open_time] = r

    def closed_candles(self, native_symbol: str, start: int | None, end: int | None, limit: int) -> list[CandleRow]:
        """Candles opened in [start, end] (and up to now), oldest first, at most ``limit``."""
        store = self.candles.get(native_symbol, {})
        out = []
        for t in sorted(store):
            if (start is not None and t < start) or (end is not None and t > end) or t > self.now_ms_value:
                continue
            out.append(store[t])
            if len(out) >= limit:
                break
        return out

    # ---- venue hooks -------------------------------------------------------
    def on_client_connected(self, client: FakeClient) -> None:
        return None

    async def on_client_message(self, client: FakeClient, text: str) -> None:
        raise NotImplementedError

    def wrap(self, stream: str, payload: dict[str, Any]) -> str:
        raise NotImplementedError

    def rest_routes(self) -> list[tuple[str, str, Any]]:
        raise NotImplementedError


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), status=status, content_type="application/json")
