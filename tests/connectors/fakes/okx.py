"""Fake OKX v5 (SPOT or SWAP): both websocket paths, ``/ws/v5/public`` (trades,
tickers, funding-rate, mark-price, open-interest) and ``/ws/v5/business``
(candles); a channel sent to the wrong path is refused with OKX's error 60018,
an unknown instrument likewise. ``op`` subscribe / unsubscribe are answered per
arg (``{"event": "subscribe", "arg": ...}``); the text ``ping`` gets ``pong``.
Limits enforced the way OKX does (violations recorded, the client dropped): 3
new connections per second, 480 subscribe/unsubscribe requests per connection
per hour, requests up to 4096 bytes, the message rate and streams per
connection of the base class, and a connection without a push for
``idle_timeout_s`` (30 s) is closed. REST: the endpoints ccxt's ``okx``
calls: ``/api/v5/public/instruments``, ``/api/v5/market/tickers``,
``/api/v5/market/candles`` and ``/api/v5/market/history-candles`` (newest
first, at most 300 rows, ``before``/``after`` exclusive bounds, the candle in
progress included by ``candles``). Frames are built from real candles in OKX's
layouts (compare tests/connectors/resources/okx/ and the shared capture)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
import zipfile
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.connectors.fakes.exchange import (
    MINUTE_MS,
    CandleRow,
    FakeClient,
    FakeExchange,
    Violation,
    json_response,
)

PUBLIC_PATH = "/ws/v5/public"
BUSINESS_PATH = "/ws/v5/business"
PUBLIC_CHANNELS = {"SPOT": {"trades", "tickers"},
                   "SWAP": {"trades", "tickers", "funding-rate", "mark-price", "open-interest"}}
BUSINESS_CHANNELS = {"candle1m"}
MAX_REQUEST_BYTES = 4096
MAX_CANDLES = 300

# Instrument entries in the layout of GET /api/v5/public/instruments (OKX docs example, BTC-USDT);
# the fake lists other symbols by replacing ids and currencies.
_SPOT_INSTRUMENT: dict[str, Any] = {
    "alias": "", "auctionEndTime": "", "baseCcy": "BTC", "category": "1", "ctMult": "", "ctType": "", "ctVal": "",
    "ctValCcy": "", "expTime": "", "instFamily": "", "instId": "BTC-USDT", "instType": "SPOT", "lever": "10",
    "listTime": "1606468572000", "lotSz": "0.00000001", "maxIcebergSz": "9999999999.0000000000000000",
    "maxLmtAmt": "1000000", "maxLmtSz": "9999999999", "maxMktAmt": "1000000", "maxMktSz": "", "maxStopSz": "",
    "maxTriggerSz": "9999999999.0000000000000000", "maxTwapSz": "9999999999.0000000000000000", "minSz": "0.00001",
    "optType": "", "quoteCcy": "USDT", "settleCcy": "", "state": "live", "ruleType": "normal", "stk": "",
    "tickSz": "0.1", "uly": ""}
_SWAP_INSTRUMENT: dict[str, Any] = {
    "alias": "", "auctionEndTime": "", "baseCcy": "", "category": "1", "ctMult": "1", "ctType": "linear",
    "ctVal": "0.01", "ctValCcy": "BTC", "expTime": "", "instFamily": "BTC-USDT", "instId": "BTC-USDT-SWAP",
    "instType": "SWAP", "lever": "100", "listTime": "1573557408000", "lotSz": "0.01",
    "maxIcebergSz": "100000000.0000000000000000", "maxLmtAmt": "20000000", "maxLmtSz": "100000000",
    "maxMktAmt": "", "maxMktSz": "12000", "maxStopSz": "12000", "maxTriggerSz": "100000000.0000000000000000",
    "maxTwapSz": "100000000.0000000000000000", "minSz": "0.01", "optType": "", "quoteCcy": "", "settleCcy": "USDT",
    "state": "live", "ruleType": "normal", "stk": "", "tickSz": "0.1", "uly": "BTC-USDT"}


def load_lean_minute_bars(path: Path) -> list[CandleRow]:
    """A LEAN minute trade-bar zip (QuantConnect/Lean, Apache-2.0): one UTC day named
    ``YYYYMMDD_trade.zip``, rows ``ms since midnight,open,high,low,close,volume``."""
    day = datetime.strptime(path.name[:8], "%Y%m%d").replace(tzinfo=UTC)
    midnight = int(day.timestamp() * 1000)
    with zipfile.ZipFile(path) as z:
        text = z.read(z.namelist()[0]).decode()
    return [CandleRow(midnight + int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
            for r in csv.reader(io.StringIO(text)) if r]


def _s(x: float) -> str:
    return f"{x:.8f}".rstrip("0").rstrip(".") if x else "0"


class FakeOkx(FakeExchange):
    """``inst_type`` is "SPOT" or "SWAP" (instrument ids ``BTC-USDT`` / ``BTC-USDT-SWAP``)."""

    def __init__(self, inst_type: str = "SPOT", *, max_streams_per_connection: int = 300,
                 max_msgs_per_second: float = 4.0, max_subscribes_per_hour: int = 480,
                 max_connections_per_second: int = 3, idle_timeout_s: float = 30.0, **kw: Any) -> None:
        if inst_type not in ("SPOT", "SWAP"):
            raise ValueError(f"FakeOkx inst_type must be SPOT or SWAP, got {inst_type!r}")
        kw.setdefault("ping_interval_s", None)  # OKX sends no protocol pings; the client pings in text
        super().__init__(max_streams_per_connection=max_streams_per_connection,
                         max_msgs_per_second=max_msgs_per_second, **kw)
        self.inst_type = inst_type
        self.max_subscribes_per_hour = max_subscribes_per_hour
        self.max_connections_per_second = max_connections_per_second
        self.idle_timeout_s = idle_timeout_s
        self.symbols: dict[str, tuple[str, str]] = {}  # instId -> (base, quote)
        self.ct_val: dict[str, float] = {}
        self.quote_volume_24h: dict[str, float] = {}
        self.trade_id = 338476307
        self.pings = 0
        self.rejected_requests: list[str] = []
        self.idle_closes = 0
        self.subscribe_requests: dict[int, int] = {}  # id(client) -> subscribe/unsubscribe requests
        self._last_push: dict[int, float] = {}
        self._connects: deque[float] = deque()
        self._watchdogs: set[asyncio.Task[None]] = set()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}{PUBLIC_PATH}"

    @property
    def business_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}{BUSINESS_PATH}"

    def native(self, base: str, quote: str) -> str:
        return f"{base}-{quote}-SWAP" if self.inst_type == "SWAP" else f"{base}-{quote}"

    def list_symbol(self, base: str, quote: str, quote_volume_24h: float = 1e6, ct_val: float = 0.01) -> str:
        native = self.native(base, quote)
        self.symbols[native] = (base, quote)
        self.quote_volume_24h[native] = quote_volume_24h
        self.ct_val[native] = ct_val if self.inst_type == "SWAP" else 1.0
        return native

    def contract_size(self, native: str) -> float:
        """Base units per contract of ``native`` (``ctVal`` in the instruments list; 1 on SPOT)."""
        return self.ct_val[native]

    def public_streams(self, client: FakeClient) -> bool:
        return client.path.startswith(PUBLIC_PATH)

    async def stop(self) -> None:
        for task in list(self._watchdogs):
            task.cancel()
        await super().stop()

    # ---- connections -----------------------------------------------------------
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        refused = super()._process_request(conn, request)
        if refused is not None:
            return refused
        if request.path.split("?")[0] not in (PUBLIC_PATH, BUSINESS_PATH):
            return Response(404, "Not Found", Headers([("Content-Length", "0")]), b"")
        now = time.monotonic()
        while self._connects and now - self._connects[0] >= 1.0:
            self._connects.popleft()
        if len(self._connects) >= self.max_connections_per_second:
            self.violations.append(Violation("connections", f"{len(self._connects) + 1} connections in 1 s"))
            return Response(429, "Too Many Requests", Headers([("Content-Length", "0")]), b"")
        self._connects.append(now)
        return None

    def on_client_connected(self, client: FakeClient) -> None:
        self._last_push[id(client)] = time.monotonic()
        task = asyncio.create_task(self._close_when_idle(client))
        self._watchdogs.add(task)
        task.add_done_callback(self._watchdogs.discard)

    async def _close_when_idle(self, client: FakeClient) -> None:
        """OKX: "The connection will break automatically if the subscription is not
        established or data has not been pushed for more than 30 seconds"."""
        with contextlib.suppress(ConnectionClosed):
            while client in self.clients:
                idle = time.monotonic() - self._last_push.get(id(client), 0.0)
                if idle > self.idle_timeout_s:
                    self.idle_closes += 1
                    await client.ws.close(4004, "no data pushed")
                    return
                await asyncio.sleep(min(1.0, self.idle_timeout_s / 5))

    async def _send(self, client: FakeClient, frame: str) -> None:
        self._last_push[id(client)] = time.monotonic()
        await client.ws.send(frame)

    async def publish(self, stream: str, payload: dict[str, Any] | str) -> int:
        frame = payload if isinstance(payload, str) else self.wrap(stream, payload)
        sent = 0
        for client in self.subscribers(stream):
            with contextlib.suppress(ConnectionClosed):
                await self._send(client, frame)
                sent += 1
        return sent

    # ---- websocket protocol -------------------------------------------------
    def _conn_id(self, client: FakeClient) -> str:
        return f"{id(client) & 0xFFFFFFFF:08x}"

    async def _error(self, client: FakeClient, code: str, msg: str, request: str) -> None:
        self.rejected_requests.append(request)
        await self._send(client, msgspec.json.encode({"event": "error", "code": code, "msg": msg,
                                                      "connId": self._conn_id(client)}).decode())

    async def on_client_message(self, client: FakeClient, text: str) -> None:
        if text == "ping":
            self.pings += 1
            await self._send(client, "pong")
            return
        if len(text.encode()) > MAX_REQUEST_BYTES:
            await self._error(client, "60012", f"Invalid request: request of {len(text.encode())} bytes", text)
            return
        try:
            req = msgspec.json.decode(text)
            op, args = req["op"], req["args"]
            if not isinstance(args, list):
                raise TypeError("args")
        except (msgspec.DecodeError, KeyError, TypeError):
            await self._error(client, "60012", f"Invalid request: {text}", text)
            return
        if op not in ("subscribe", "unsubscribe"):
            await self._error(client, "60012", f"Invalid request: {text}", text)
            return
        n = self.subscribe_requests[id(client)] = self.subscribe_requests.get(id(client), 0) + 1
        if n > self.max_subscribes_per_hour:
            self.violations.append(Violation("rate", f"{n} subscribe/unsubscribe requests in an hour"))
            await client.ws.close(1008, "too many subscribe requests")
            return
        allowed = PUBLIC_CHANNELS[self.inst_type] if self.public_streams(client) else BUSINESS_CHANNELS
        for arg in args:
            channel, inst = (arg.get("channel"), arg.get("instId")) if isinstance(arg, dict) else (None, None)
            if channel not in allowed:
                await self._error(client, "60018", f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. "
                                                   "Please use the correct URL, channel and parameters referring to "
                                                   "API document.", text)
                continue
            if inst not in self.symbols:
                await self._error(client, "60018", f"channel:{channel},instId:{inst} doesn't exist", text)
                continue
            stream = f"{channel}:{inst}"
            if op == "subscribe":
                client.streams.add(stream)
            else:
                client.streams.discard(stream)
            await self._send(client, msgspec.json.encode({"event": op, "arg": {"channel": channel, "instId": inst},
                                                          "connId": self._conn_id(client)}).decode())

    def wrap(self, stream: str, payload: dict[str, Any]) -> str:
        channel, _, inst = stream.partition(":")
        return msgspec.json.encode({"arg": {"channel": channel, "instId": inst}, **payload}).decode()

    # ---- frames in OKX's layout -------------------------------------------------
    def candle_row(self, native: str, row: CandleRow, *, confirm: bool) -> list[str]:
        """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``: SPOT vol in base and
        volCcy in quote; SWAP vol in contracts and volCcy in base."""
        if self.inst_type == "SWAP":
            vol, vol_ccy = _s(row.volume / self.ct_val[native]), _s(row.volume)
        else:
            vol, vol_ccy = _s(row.volume), _s(row.quote_volume)
        return [str(row.open_time), _s(row.open), _s(row.high), _s(row.low), _s(row.close), vol, vol_ccy,
                _s(row.quote_volume), "1" if confirm else "0"]

    def candle_payload(self, native: str, row: CandleRow, *, confirm: bool) -> dict[str, Any]:
        return {"data": [self.candle_row(native, row, confirm=confirm)]}

    def trade_payload(self, native: str, price: float, qty: float, ts: int, side: str) -> dict[str, Any]:
        """``qty`` in base currency (sent in contracts on SWAP)."""
        self.trade_id += 1
        return {"data": [{"instId": native, "tradeId": str(self.trade_id), "px": _s(price),
                          "sz": _s(qty / self.ct_val[native]), "side": side, "ts": str(ts), "count": "1",
                          "source": "0", "seqId": self.trade_id}]}

    def ticker_payload(self, native: str, bid: float, ask: float, last: float, ts: int) -> dict[str, Any]:
        size = 1.0 / self.ct_val[native] if self.inst_type == "SWAP" else 1.5
        return {"data": [{"instType": self.inst_type, "instId": native, "last": _s(last), "lastSz": "0.01",
                          "askPx": _s(ask), "askSz": _s(2 * size), "bidPx": _s(bid), "bidSz": _s(size),
                          "open24h": _s(last), "high24h": _s(ask), "low24h": _s(bid), "sodUtc0": _s(last),
                          "sodUtc8": _s(last), "volCcy24h": "17602.13", "vol24h": "1760213", "ts": str(ts)}]}

    def mark_payload(self, native: str, mark: float, ts: int) -> dict[str, Any]:
        return {"data": [{"instType": "SWAP", "instId": native, "markPx": _s(mark), "ts": str(ts)}]}

    @staticmethod
    def settlement_after(ts: int) -> int:
        return (ts // (8 * 3600_000) + 1) * 8 * 3600_000

    def funding_payload(self, native: str, rate: float, ts: int) -> dict[str, Any]:
        settle = self.settlement_after(ts)
        return {"data": [{"fundingRate": _s(rate), "fundingTime": str(settle), "instId": native, "instType": "SWAP",
                          "method": "current_period", "maxFundingRate": "0.00375", "minFundingRate": "-0.00375",
                          "nextFundingRate": "", "nextFundingTime": str(settle + 8 * 3600_000),
                          "premium": "0.0001233824646391", "settFundingRate": "0.0001699799259033",
                          "settState": "settled", "ts": str(ts)}]}

    def open_interest_payload(self, native: str, oi_base: float, mark: float, ts: int) -> dict[str, Any]:
        return {"data": [{"instId": native, "instType": "SWAP", "oi": _s(oi_base / self.ct_val[native]),
                          "oiCcy": _s(oi_base), "oiUsd": _s(oi_base * mark), "ts": str(ts)}]}

    async def play_minute(self, native: str, row: CandleRow) -> None:
        """One minute: an open candle, a trade, a ticker (and on SWAP mark price,
        funding rate and open interest), then the closing candle (``confirm``
        "1"). The clock moves to the minute's end."""
        self.set_now(row.open_time + 30_000)
        now = self.now_ms()
        partial = CandleRow(row.open_time, row.open, max(row.open, row.close), min(row.open, row.close), row.close,
                            row.volume / 2)
        await self.publish(f"candle1m:{native}", self.candle_payload(native, partial, confirm=False))
        await self.publish(f"trades:{native}", self.trade_payload(native, row.close, 0.01, now,
                                                                  "sell" if row.close < row.open else "buy"))
        await self.publish(f"tickers:{native}", self.ticker_payload(native, row.low, row.high, row.close, now))
        if self.inst_type == "SWAP":
            await self.publish(f"mark-price:{native}", self.mark_payload(native, row.close, now))
            await self.publish(f"funding-rate:{native}", self.funding_payload(native, 0.0001, now))
            await self.publish(f"open-interest:{native}", self.open_interest_payload(native, 59891.73, row.close, now))
        self.add_candles(native, [row])
        self.set_now(row.close_time + 1)
        await self.publish(f"candle1m:{native}", self.candle_payload(native, row, confirm=True))

    # ---- REST ---------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", "/api/v5/public/instruments", self._instruments), ("GET", "/api/v5/market/tickers", self._tickers),
                ("GET", "/api/v5/market/candles", self._candles), ("GET", "/api/v5/market/history-candles", self._history),
                ("GET", "/api/v5/public/time", self._time)]

    @staticmethod
    def _ok(data: list[Any]) -> web.Response:
        return json_response({"code": "0", "msg": "", "data": data})

    @staticmethod
    def _fail(code: str, msg: str) -> web.Response:
        return json_response({"code": code, "msg": msg, "data": []}, status=400)

    async def _time(self, request: web.Request) -> web.Response:
        return self._ok([{"ts": str(self.now_ms())}])

    async def _instruments(self, request: web.Request) -> web.Response:
        inst_type = request.query.get("instType")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            return self._fail("51000", "Parameter instType error")
        if inst_type != self.inst_type:
            return self._ok([])
        items = []
        for native, (base, quote) in self.symbols.items():
            if self.inst_type == "SWAP":
                items.append(_SWAP_INSTRUMENT | {"instId": native, "instFamily": f"{base}-{quote}",
                                                 "uly": f"{base}-{quote}", "settleCcy": quote, "ctValCcy": base,
                                                 "ctVal": _s(self.ct_val[native])})
            else:
                items.append(_SPOT_INSTRUMENT | {"instId": native, "baseCcy": base, "quoteCcy": quote})
        return self._ok(items)

    async def _tickers(self, request: web.Request) -> web.Response:
        if request.query.get("instType") != self.inst_type:
            return self._ok([])
        out = []
        for native in self.symbols:
            store = self.candles.get(native, {})
            last = store[max(store)].close if store else 1.0
            quote_vol = self.quote_volume_24h[native]
            base_vol = quote_vol / last
            # SPOT: vol24h in base, volCcy24h in quote; SWAP: vol24h in contracts, volCcy24h in base
            vol24h, vol_ccy = ((base_vol / self.ct_val[native], base_vol) if self.inst_type == "SWAP"
                               else (base_vol, quote_vol))
            out.append({"instType": self.inst_type, "instId": native, "last": _s(last), "lastSz": "1",
                        "askPx": _s(last), "askSz": "1", "bidPx": _s(last), "bidSz": "1", "open24h": _s(last),
                        "high24h": _s(last), "low24h": _s(last), "volCcy24h": _s(vol_ccy), "vol24h": _s(vol24h),
                        "sodUtc0": _s(last), "sodUtc8": _s(last), "ts": str(self.now_ms())})
        return self._ok(out)

    def _candle_rows(self, request: web.Request, *, in_progress: bool) -> web.Response:
        q = request.query
        native = q.get("instId", "")
        if native not in self.symbols:
            return self._fail("51001", "Instrument ID does not exist")
        if q.get("bar", "1m") != "1m":
            return self._fail("51000", "Parameter bar error")
        limit = int(q.get("limit", "100"))
        if not 1 <= limit <= MAX_CANDLES:
            return self._fail("51000", "Parameter limit error")
        after = int(q["after"]) if "after" in q else None  # rows older than after
        before = int(q["before"]) if "before" in q else None  # rows newer than before
        store = self.candles.get(native, {})
        now = self.now_ms()
        rows = [self.candle_row(native, store[t], confirm=store[t].close_time < now) for t in sorted(store)
                if store[t].close_time < now or (in_progress and t <= now)]
        current = now // MINUTE_MS * MINUTE_MS
        if in_progress and store and current not in store and current > max(store):
            last = store[max(store)].close  # the minute in progress, nothing traded yet
            rows.append([str(current), _s(last), _s(last), _s(last), _s(last), "0", "0", "0", "0"])
        rows = [r for r in rows if (after is None or int(r[0]) < after) and (before is None or int(r[0]) > before)]
        rows.reverse()  # newest first; "before" alone returns the latest rows
        return self._ok(rows[:limit])

    async def _candles(self, request: web.Request) -> web.Response:
        return self._candle_rows(request, in_progress=True)

    async def _history(self, request: web.Request) -> web.Response:
        return self._candle_rows(request, in_progress=False)
