"""The query API and dashboard: a thin FastAPI layer over the lake's DuckDB views.

Routes (see docs/api.md):

- ``GET /api/v1/health``: lake path, stored row counts, broker bootstrap, version
- ``GET /api/v1/signals``: filtered signals, newest first
- ``GET /api/v1/signals/stream``: Server-Sent Events of signals as the sink commits them
- ``GET /api/v1/candles/{exchange}/{symbol}``: candles of one symbol and timeframe
- ``GET /``: the dashboard (``api/static/index.html``, no build step, no CDN)

Times in and out are integer UTC milliseconds; ``since``/``until`` also take
ISO-8601 with a timezone (``2024-01-01T00:00:00Z``) or a plain date (UTC
midnight). Bad parameters answer 422 with a message naming the parameter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from detectors.timeframes import TIMEFRAME_MS
from scanflow.settings import Settings
from sinks.catalog import LakeCatalog
from sinks.datasets import SIGNALS
from sinks.tail import LakeTail
from streams.records import DIRECTIONS

log = logging.getLogger("scanflow.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_LIMIT = 10_000


def _version() -> str:
    try:
        return metadata.version("scanflow")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def unprocessable(param: str, message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=f"{param}: {message}")


def parse_time(value: str | None, param: str) -> int | None:
    """``value`` as UTC ms: an integer (ms), ISO-8601 with a timezone, or a date."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if len(text) == 10:
        try:
            d = date.fromisoformat(text)
        except ValueError:
            raise unprocessable(param, f"{value!r} is not a date (YYYY-MM-DD)") from None
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise unprocessable(param, f"{value!r} is neither integer UTC milliseconds nor ISO-8601 "
                                   "(e.g. 2024-01-01T00:00:00Z)") from None
    if dt.tzinfo is None:
        raise unprocessable(param, f"{value!r} has no timezone; add Z or +00:00 (times are UTC)")
    return int(dt.timestamp() * 1000)


def check_tf(tf: str | None, param: str = "tf") -> None:
    if tf is not None and tf not in TIMEFRAME_MS:
        raise unprocessable(param, f"unknown timeframe {tf!r}; known: {', '.join(TIMEFRAME_MS)}")


def normalize_symbol(symbol: str) -> str:
    """``BTC-USDT`` -> ``BTC/USDT``; ``BTC/USDT`` (URL-decoded) stays."""
    symbol = symbol.strip()
    if not symbol:
        raise unprocessable("symbol", "must not be empty")
    if "/" not in symbol and "-" in symbol:
        base, _, rest = symbol.partition("-")
        symbol = f"{base}/{rest}"
    return symbol


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k == "date":
            continue
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def signal_out(row: dict[str, Any]) -> dict[str, Any]:
    r = _jsonable(row)
    if isinstance(r.get("features"), str):
        r["features"] = json.loads(r["features"])
    return r


class SignalFilter:
    """The signal filters shared by the list and the stream."""

    def __init__(self, symbol: str | None, exchange: str | None, tf: str | None, detector: str | None,
                 direction: str | None, min_score: float | None, since: str | None, until: str | None) -> None:
        check_tf(tf)
        if direction is not None and direction not in DIRECTIONS:
            raise unprocessable("direction", f"{direction!r} is not one of {', '.join(sorted(DIRECTIONS))}")
        self.symbol = normalize_symbol(symbol) if symbol else None
        self.exchange = exchange
        self.tf = tf
        self.detector = detector
        self.direction = direction
        self.min_score = min_score
        self.since = parse_time(since, "since")
        self.until = parse_time(until, "until")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise unprocessable("until", f"{self.until} is before since {self.since}")

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("symbol", self.symbol), ("exchange", self.exchange), ("tf", self.tf),
                              ("detector", self.detector), ("direction", self.direction)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.min_score is not None:
            clauses.append("score >= ?")
            params.append(self.min_score)
        if self.since is not None:
            clauses.append("event_time >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("event_time <= ?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _signal_filter(
    symbol: str | None = Query(None, description="BTC/USDT (URL-encoded) or BTC-USDT"),
    exchange: str | None = Query(None),
    tf: str | None = Query(None, description="timeframe, e.g. 1m, 1h"),
    detector: str | None = Query(None),
    direction: str | None = Query(None, description="bullish, bearish or neutral"),
    min_score: float | None = Query(None, ge=0, le=100),
    since: str | None = Query(None, description="UTC ms, ISO-8601 with timezone, or YYYY-MM-DD; on event_time"),
    until: str | None = Query(None, description="same forms as since"),
) -> SignalFilter:
    return SignalFilter(symbol, exchange, tf, detector, direction, min_score, since, until)


class _SeenIds:
    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """True if ``key`` is new."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


def create_app(settings: Settings) -> FastAPI:
    """The API over ``settings.lake_dir``. No I/O until the first request."""
    catalog = LakeCatalog(settings.lake_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        catalog.close()

    app = FastAPI(title="scanflow", version=_version(), lifespan=lifespan,
                  description="Signals and candles from the scanflow lake")
    app.state.settings = settings
    app.state.catalog = catalog

    def rows(sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return catalog.rows(sql, params)

    @app.get("/api/v1/health")
    def health() -> dict[str, Any]:
        counts = rows("SELECT (SELECT count(*) FROM candles_raw) AS candles, "
                      "(SELECT count(*) FROM signals_raw) AS signals, "
                      "(SELECT count(*) FROM deadletter_raw) AS deadletter")[0]
        return {"status": "ok", "version": _version(), "lake_dir": str(settings.lake_dir),
                "bootstrap": settings.bootstrap, "rows": counts}

    @app.get("/api/v1/signals")
    def signals(f: SignalFilter = Depends(_signal_filter),
                limit: int = Query(100, ge=1, le=MAX_LIMIT)) -> dict[str, Any]:
        where, params = f.where()
        found = rows(f"SELECT * FROM signals{where} ORDER BY event_time DESC, emitted_at DESC, id LIMIT ?",
                     [*params, limit])
        return {"count": len(found), "signals": [signal_out(r) for r in found]}

    @app.get("/api/v1/signals/stream")
    async def signal_stream(request: Request, f: SignalFilter = Depends(_signal_filter),
                            poll_ms: int = Query(1000, ge=50, le=60_000),
                            max_events: int | None = Query(None, ge=1, le=MAX_LIMIT,
                                                           description="end the stream after this many signals"),
                            ) -> StreamingResponse:
        tail = LakeTail(settings.lake_dir, "signals")
        await asyncio.to_thread(tail.poll)  # remember where the lake is now

        async def events() -> AsyncIterator[str]:
            seen = _SeenIds()
            sent = 0
            last_beat = time.monotonic()
            yield ": scanflow signal stream\nretry: 2000\n\n"
            backlog: list[dict[str, Any]] = []
            if f.since is not None:
                where, params = f.where()
                backlog = await asyncio.to_thread(
                    rows, f"SELECT * FROM signals{where} ORDER BY event_time, id LIMIT ?", [*params, MAX_LIMIT])
            while True:
                for row in backlog:
                    if not seen.add(row["id"]):
                        continue
                    yield f"id: {row['id']}\nevent: signal\ndata: {json.dumps(signal_out(row))}\n\n"
                    sent += 1
                    if max_events is not None and sent >= max_events:
                        return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(poll_ms / 1000)
                files = await asyncio.to_thread(tail.poll)
                backlog = await asyncio.to_thread(_read_signal_files, files, f) if files else []
                if not backlog and time.monotonic() - last_beat >= 15:
                    last_beat = time.monotonic()
                    yield ": keepalive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/v1/candles/{exchange}/{symbol:path}")
    def candles(exchange: str, symbol: str,
                tf: str = Query("1m", description="timeframe"),
                limit: int = Query(500, ge=1, le=MAX_LIMIT),
                since: str | None = Query(None, description="UTC ms, ISO-8601 with timezone, or YYYY-MM-DD"),
                until: str | None = Query(None),
                market: str | None = Query(None, description="spot, usdm, ... (all when omitted)"),
                ) -> dict[str, Any]:
        check_tf(tf)
        sym = normalize_symbol(symbol)
        t0, t1 = parse_time(since, "since"), parse_time(until, "until")
        base = "exchange = ? AND symbol = ?"
        params: list[Any] = [exchange, sym]
        if market is not None:
            base += " AND market = ?"
            params.append(market)
        known = rows(f"SELECT tf FROM candles_raw WHERE {base} GROUP BY tf", params)
        if not known:
            raise HTTPException(status_code=404, detail=f"no candles for symbol {sym!r} on exchange {exchange!r}"
                                                        + (f" market {market!r}" if market else "") + " in the lake")
        where = f"{base} AND tf = ?"
        params.append(tf)
        if t0 is not None:
            where += " AND open_time >= ?"
            params.append(t0)
        if t1 is not None:
            where += " AND open_time <= ?"
            params.append(t1)
        found = rows(f"SELECT * EXCLUDE (_topic, _partition, _offset) FROM candles WHERE {where} "
                     f"ORDER BY open_time {'ASC' if t0 is not None else 'DESC'} LIMIT ?", [*params, limit])
        found.sort(key=lambda r: r["open_time"])
        return {"exchange": exchange, "symbol": sym, "tf": tf,
                "timeframes": sorted(r["tf"] for r in known), "count": len(found),
                "candles": [_jsonable(r) for r in found]}

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    return app


def _read_signal_files(files: list[Path], f: SignalFilter) -> list[dict[str, Any]]:
    """Rows of freshly committed signal files that pass the filter, oldest first."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        where, params = f.where()
        names = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        cols = ", ".join(f'"{c}"' for c in SIGNALS.schema.names)
        rel = con.execute(f"SELECT {cols} FROM read_parquet([{names}], union_by_name = true){where} "
                          "ORDER BY event_time, id", params)
        names_out = [d[0] for d in rel.description or []]
        return [dict(zip(names_out, r, strict=True)) for r in rel.fetchall()]
    finally:
        con.close()


def serve(settings: Settings) -> None:
    """``scanflow api``: run the API with uvicorn on settings.api_host:api_port."""
    import uvicorn

    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                log_level=settings.log_level.lower())
