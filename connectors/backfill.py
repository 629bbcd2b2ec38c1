"""History over REST into the lake (and optionally the topic), resumable.

``scanflow backfill --exchange binance-usdm --symbols BTC/USDT,ETH/USDT --since 2024-01-01 --tf 1m``

Work is cut into (symbol, UTC day) units. Each unit pages through ccxt
``fetch_ohlcv`` (ccxt's rate limiter paces requests by the exchange's
weights), drops candles not closed yet, and writes one parquet file
atomically (temporary name, then rename) into the lake's ``candles`` dataset::

    <lake>/candles/exchange=<x>/tf=<tf>/date=<YYYY-MM-DD>/backfill-<market>-<BASE_QUOTE>.parquet

with the dataset's columns (lineage ``_topic`` = ``rest_backfill``). A unit
whose day had fully passed when it was fetched is recorded in
``<lake>/_backfill/<exchange>-<market>-<tf>.json``; the next run skips
recorded units, so an interrupted backfill resumes where it stopped, and
today's partial day is fetched again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.base.publish import Publisher
from connectors.base.rest import RestClient, rest_row_to_candle
from connectors.base.venue import Venue
from connectors.clock import now_ms
from detectors.timeframes import DAY_MS, TIMEFRAME_MS
from streams import topics
from streams.records import Candle, RecordError

_encode = msgspec.json.Encoder().encode

CANDLE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("exchange", pa.string()), ("market", pa.string()), ("symbol", pa.string()), ("tf", pa.string()),
    ("open_time", pa.int64()), ("close_time", pa.int64()), ("open", pa.float64()), ("high", pa.float64()),
    ("low", pa.float64()), ("close", pa.float64()), ("volume", pa.float64()), ("quote_volume", pa.float64()),
    ("trades", pa.int64()), ("provenance", pa.string()), ("event_time", pa.int64()), ("received_at", pa.int64()),
    ("missing_minutes", pa.int64()), ("_topic", pa.string()), ("_partition", pa.int32()), ("_offset", pa.int64()),
]
CANDLE_SCHEMA = pa.schema([pa.field(n, t) for n, t in CANDLE_COLUMNS])


def symbol_slug(symbol: str) -> str:
    return symbol.replace("/", "_").replace(":", "_")


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def parse_day(text: str) -> int:
    """``2024-01-01`` (UTC) or integer ms -> ms."""
    if text.isdigit():
        return int(text)
    return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


@dataclass
class BackfillReport:
    units_done: int = 0
    units_skipped: int = 0
    candles_written: int = 0
    candles_published: int = 0
    requests: int = 0
    rejected: list[str] = field(default_factory=list)


class Backfill:
    """Backfill ``symbols`` of one venue from ``since`` (ms) to ``until`` (ms, default now)."""

    def __init__(self, venue: Venue, rest: RestClient, lake_dir: Path, *, tf: str = "1m",
                 publisher: Publisher | None = None, page: int = 1000,
                 clock: Callable[[], int] = now_ms) -> None:
        if tf not in TIMEFRAME_MS:
            raise ValueError(f"backfill: timeframe {tf!r} is not one of {sorted(TIMEFRAME_MS)}")
        if publisher is not None and tf != "1m":
            raise ValueError(f"backfill --publish sends to {topics.CANDLES_1M}: only tf 1m can be published, not {tf}")
        self.venue = venue
        self.rest = rest
        self.lake_dir = Path(lake_dir)
        self.tf = tf
        self.publisher = publisher
        self.page = page
        self.clock = clock
        self.state_path = self.lake_dir / "_backfill" / f"{venue.exchange}-{venue.market}-{tf}.json"

    # ---- state -----------------------------------------------------------
    def _load_state(self) -> dict[str, list[str]]:
        if not self.state_path.exists():
            return {}
        try:
            data = json.loads(self.state_path.read_text())
        except json.JSONDecodeError as exc:
            raise RuntimeError(f"backfill state {self.state_path} is corrupt ({exc}); delete it to start over") from None
        return {k: list(v) for k, v in data.get("complete", {}).items()}

    def _save_state(self, state: dict[str, list[str]]) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"complete": {k: sorted(v) for k, v in state.items()}}, indent=1))
        os.replace(tmp, self.state_path)

    def units(self, symbols: list[str], since: int, until: int) -> list[tuple[str, int]]:
        first = since // DAY_MS * DAY_MS
        return [(s, d) for s in symbols for d in range(first, until, DAY_MS)]

    def file_for(self, symbol: str, day_start: int) -> Path:
        return (self.lake_dir / "candles" / f"exchange={self.venue.exchange}" / f"tf={self.tf}"
                / f"date={day_of(day_start)}" / f"backfill-{self.venue.market}-{symbol_slug(symbol)}.parquet")

    # ---- work --------------------------------------------------------------
    async def run(self, symbols: list[str], since: int, until: int | None = None,
                  on_unit: Callable[[str, int, int], None] | None = None) -> BackfillReport:
        """Fetch every (symbol, day) not yet complete; ``on_unit(symbol, day, rows)`` after each."""
        report = BackfillReport()
        end = until if until is not None else self.clock()
        state = self._load_state()
        for symbol, day in self.units(symbols, since, end):
            done = state.setdefault(symbol, [])
            if day_of(day) in done:
                report.units_skipped += 1
                if on_unit:
                    on_unit(symbol, day, 0)
                continue
            now = self.clock()
            lo, hi = max(day, since), min(day + DAY_MS, end)
            candles = await self._fetch(symbol, lo, hi, now, report)
            self._write(symbol, day, candles)
            report.candles_written += len(candles)
            if self.publisher is not None:
                for c in candles:
                    await self.publisher.send(topics.CANDLES_1M, c.key.encode(), _encode(c))
                report.candles_published += len(candles)
            if day + DAY_MS <= now and hi == day + DAY_MS and lo == day:
                done.append(day_of(day))
                self._save_state(state)
            report.units_done += 1
            if on_unit:
                on_unit(symbol, day, len(candles))
        if self.publisher is not None:
            await self.publisher.flush()
        return report

    async def _fetch(self, symbol: str, lo: int, hi: int, now: int, report: BackfillReport) -> list[Candle]:
        out: dict[int, Candle] = {}
        since = lo
        step = TIMEFRAME_MS[self.tf]
        while since < hi:
            rows = await self.rest.fetch_ohlcv(symbol, since, self.page) if self.tf == "1m" else \
                await self._fetch_tf(symbol, since)
            report.requests += 1
            newest = since - step
            for row in rows:
                t = int(row[0])
                newest = max(newest, t)
                if t < lo or t >= hi:
                    continue
                try:
                    c = rest_row_to_candle(self.venue.exchange, self.venue.market, symbol, self.tf, row, now)
                except RecordError as exc:
                    report.rejected.append(f"{exc.reason}: {exc.detail}")
                    continue
                if c is not None:
                    out[t] = c
            if not rows or newest < since:
                break
            since = newest + step
        return [out[t] for t in sorted(out)]

    async def _fetch_tf(self, symbol: str, since: int) -> list[list[Any]]:
        fetch = getattr(self.rest, "fetch_ohlcv_tf", None)
        if fetch is None:
            raise ValueError(f"backfill {symbol}: REST client has no fetch_ohlcv_tf for tf {self.tf}")
        return await fetch(symbol, self.tf, since, self.page)

    def _write(self, symbol: str, day: int, candles: list[Candle]) -> None:
        path = self.file_for(symbol, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        cols: dict[str, list[Any]] = {n: [] for n, _ in CANDLE_COLUMNS}
        for c in candles:
            for n, _ in CANDLE_COLUMNS[:-3]:
                cols[n].append(getattr(c, n))
            cols["_topic"].append("rest_backfill")
            cols["_partition"].append(None)
            cols["_offset"].append(None)
        table = pa.table(cols, schema=CANDLE_SCHEMA)
        tmp = path.with_name("." + path.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
