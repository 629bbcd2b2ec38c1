"""Replay candle files onto the broker (``scanflow replay PATH``).

Every row becomes a :class:`Candle` with provenance ``replay``; 1m candles go to
``md.candles.1m`` and other timeframes to ``md.candles``. Records are a pure
function of the file (``received_at`` is the candle's close + 1 ms), so replaying
the same file twice publishes byte-identical records with the same keys and
downstream deduplication works. Rows that break the contract (NaN, negative or
zero prices, high below low, unaligned times, ...) are published to
``deadletter`` with the reason and the raw row; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from connectors.files import (
    dominant_timeframe,
    infer_exchange,
    infer_symbol,
    read_candle_file,
    split_pair,
)
from detectors.records import Candle, RecordError, encode, validate_candle
from detectors.timeframes import TIMEFRAME_MS, tf_ms
from streams import topics
from streams.kafka import make_producer
from streams.records import dead_letter


@dataclass
class ReplayPlan:
    path: str
    exchange: str
    market: str
    symbol: str
    tf: str
    rows: int


@dataclass
class ReplayReport:
    plan: ReplayPlan
    published: int = 0
    deadlettered: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0


def plan_replay(path: str | Path, *, exchange: str | None = None, market: str = "spot",
                symbol: str | None = None, tf: str | None = None) -> tuple[ReplayPlan, pd.DataFrame]:
    """Load the file and work out exchange, symbol and timeframe (or take them)."""
    frame = read_candle_file(path)
    if len(frame) == 0:
        raise ValueError(f"{path}: no candles in file")
    sym = symbol or frame.attrs.get("symbol") or infer_symbol(path)
    if not sym:
        raise ValueError(f"{path}: cannot infer the symbol from the file name; pass --symbol BASE/QUOTE")
    if "/" not in sym and "-" not in sym:
        sym = split_pair(sym) or sym
    if tf is not None and tf not in TIMEFRAME_MS:
        raise ValueError(f"unknown timeframe {tf!r}; known: {', '.join(TIMEFRAME_MS)}")
    timeframe = tf or dominant_timeframe(frame["open_time"].to_numpy())
    ex = exchange or infer_exchange(path) or "replay"
    return ReplayPlan(str(path), ex, market, sym, timeframe, len(frame)), frame


def frame_to_records(plan: ReplayPlan, frame: pd.DataFrame) -> list[tuple[bool, bytes, str | None]]:
    """(ok, payload, reason) per row, in file order. Bad rows carry their raw JSON."""
    out: list[tuple[bool, bytes, str | None]] = []
    length = tf_ms(plan.tf)
    has_qv = "quote_volume" in frame.columns
    has_trades = "trades" in frame.columns
    cols = {c: frame[c].to_numpy() for c in frame.columns}
    for i in range(len(frame)):
        ot = int(cols["open_time"][i])
        qv = float(cols["quote_volume"][i]) if has_qv else None
        tr = cols["trades"][i] if has_trades else None
        trades = None if tr is None or pd.isna(tr) else int(tr)
        try:
            candle = Candle(
                exchange=plan.exchange, market=plan.market, symbol=plan.symbol, tf=plan.tf,
                open_time=ot, close_time=ot + length - 1,
                open=float(cols["open"][i]), high=float(cols["high"][i]), low=float(cols["low"][i]),
                close=float(cols["close"][i]), volume=float(cols["volume"][i]),
                quote_volume=None if qv is None or math.isnan(qv) else qv, trades=trades,
                provenance="replay", event_time=ot + length - 1, received_at=ot + length,
            )
            validate_candle(candle)
            out.append((True, encode(candle), None))
        except RecordError as exc:
            raw = json.dumps({"file": plan.path, "row": i, **_raw_row(cols, i)}, default=str)
            rec = dead_letter(f"replay:{Path(plan.path).name}", exc, raw, received_at=ot + length)
            out.append((False, encode(rec), exc.reason))
    return out


def _raw_row(cols: dict[str, Any], i: int) -> dict[str, Any]:
    """Row ``i`` as JSON-ready builtins (NaN as null), for a dead-letter record."""
    row: dict[str, Any] = {}
    for name, values in cols.items():
        v = values[i]
        v = v.item() if hasattr(v, "item") else v
        row[name] = None if isinstance(v, float) and math.isnan(v) else v
    return row


async def replay(path: str | Path, bootstrap: str, *, exchange: str | None = None, market: str = "spot",
                 symbol: str | None = None, tf: str | None = None, speed: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ReplayReport:
    """Publish a candle file; as fast as the broker accepts unless ``speed`` paces
    it (``speed=60`` plays one hour of candles per minute)."""
    plan, frame = plan_replay(path, exchange=exchange, market=market, symbol=symbol, tf=tf)
    records = frame_to_records(plan, frame)
    report = ReplayReport(plan)
    topic = topics.CANDLES_1M if plan.tf == "1m" else topics.CANDLES
    key = topics.market_key(plan.exchange, plan.market, plan.symbol).encode()
    producer = make_producer(bootstrap, client_id="scanflow-replay")
    await producer.start()
    start = time.monotonic()
    open_times = frame["open_time"].to_numpy()
    try:
        pending = []
        for i, (ok, payload, reason) in enumerate(records):
            if speed and i > 0:
                gap = (int(open_times[i]) - int(open_times[i - 1])) / 1000.0 / speed
                if gap > 0:
                    await asyncio.gather(*pending)
                    pending.clear()
                    await asyncio.sleep(gap)
            if ok:
                pending.append(await producer.send(topic, payload, key=key))
                report.published += 1
            else:
                pending.append(await producer.send(topics.DEADLETTER, payload, key=b"replay"))
                report.deadlettered += 1
                report.reasons[reason or "rejected"] = report.reasons.get(reason or "rejected", 0) + 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
                if progress:
                    progress(i + 1, len(records))
        await asyncio.gather(*pending)
        await producer.flush()
        if progress:
            progress(len(records), len(records))
    finally:
        await producer.stop()
    report.seconds = time.monotonic() - start
    return report


__all__ = ["ReplayPlan", "ReplayReport", "plan_replay", "frame_to_records", "replay"]
