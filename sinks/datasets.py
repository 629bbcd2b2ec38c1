"""What each topic becomes in the lake: dataset name, hive partition columns,
column schema, batch decoder and vectorized validation.

Decoding is columnar. The values of a batch are joined as newline-delimited
JSON and parsed by polars against the dataset's explicit schema in one call;
the contract's checks (``validate_candle`` and friends) run as vectorized
expressions over the columns. Rows those checks flag, and whole batches polars
refuses to parse, go through the per-record msgspec decoder and validator of
:mod:`streams.records`, which are the authority: they give each rejected record
its exact reason (it becomes a dead letter), and a row they accept is kept.
There are no row-by-row writes.

Nested values: ``Signal.features`` (free-form) is stored as JSON text (query it
with ``features->>'$.ratio'`` or ``json_extract``); ``Signal.trade_plan`` has a
fixed shape and is stored as a nullable struct (``trade_plan.entry``).
Confluence ``members``/``closed_candles`` are JSON text. Every dataset carries
lineage columns ``_topic``, ``_partition``, ``_offset``: where the row came from.

One leniency of the columnar path: a JSON number where the contract wants a
string (``"exchange": 5``) is stored as its text (``"5"``); every other type
mismatch is rejected as ``schema_mismatch`` like the msgspec decoder does.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import polars as pl
import pyarrow as pa

from detectors.timeframes import TIMEFRAME_ANCHOR_MS, TIMEFRAME_MS
from streams import topics
from streams.records import (
    DIRECTIONS,
    MARKETS,
    PROVENANCES,
    Candle,
    Confluence,
    DeadLetter,
    Quote,
    RecordError,
    Signal,
    Tick,
    validate_candle,
    validate_quote,
    validate_signal,
    validate_tick,
)

LINEAGE_FIELDS: list[pa.Field] = [
    pa.field("_topic", pa.string()),
    pa.field("_partition", pa.int32()),
    pa.field("_offset", pa.int64()),
]

TRADE_PLAN_TYPE = pa.struct([
    pa.field("entry", pa.float64()),
    pa.field("stop", pa.float64()),
    pa.field("tp1", pa.float64()),
    pa.field("tp2", pa.float64()),
    pa.field("eta_bars", pa.int64()),
])

_json = msgspec.json.Encoder()


def _json_text(value: Any) -> str:
    return _json.encode(value).decode()


@dataclass(frozen=True)
class Rejected:
    """A message that could not become a row, with the contract's reason."""

    index: int  # position in the decoded batch
    error: RecordError


@dataclass(frozen=True)
class Decoded:
    frame: pl.DataFrame  # accepted rows in the dataset's schema, lineage and ``date`` included
    rejected: list[Rejected]


def _finite_positive(name: str) -> pl.Expr:
    c = pl.col(name)
    return c.is_finite() & (c > 0)


def _finite_non_negative(name: str) -> pl.Expr:
    c = pl.col(name)
    return c.is_finite() & (c >= 0)


_TF_MS = {k: v for k, v in TIMEFRAME_MS.items()}
_TF_ANCHOR = dict(TIMEFRAME_ANCHOR_MS)


def _candle_ok() -> pl.Expr:
    tf_len = pl.col("tf").replace_strict(_TF_MS, default=None, return_dtype=pl.Int64)
    anchor = pl.col("tf").replace_strict(_TF_ANCHOR, default=None, return_dtype=pl.Int64)
    o, h, low, c = pl.col("open"), pl.col("high"), pl.col("low"), pl.col("close")
    qv, trades = pl.col("quote_volume"), pl.col("trades")
    return (
        pl.col("tf").is_in(list(TIMEFRAME_MS))
        & pl.col("market").is_in(sorted(MARKETS))
        & pl.col("provenance").is_in(sorted(PROVENANCES))
        & (pl.col("exchange").str.len_bytes() > 0)
        & (pl.col("symbol").str.len_bytes() > 0)
        & _finite_positive("open") & _finite_positive("high")
        & _finite_positive("low") & _finite_positive("close")
        & (h >= low) & (low <= o) & (o <= h) & (low <= c) & (c <= h)
        & _finite_non_negative("volume")
        & (qv.is_null() | (qv.is_finite() & (qv >= 0)))
        & (trades.is_null() | (trades >= 0))
        & (pl.col("open_time") >= 0)
        & (((pl.col("open_time") - anchor) % tf_len) == 0)
        & (pl.col("close_time") == pl.col("open_time") + tf_len - 1)
    )


def _signal_ok() -> pl.Expr:
    tp = pl.col("trade_plan")
    plan_ok = tp.is_null() | (
        tp.struct.field("entry").is_not_null() & tp.struct.field("stop").is_not_null()
        & tp.struct.field("tp1").is_not_null() & tp.struct.field("tp2").is_not_null()
    )
    return (
        pl.col("direction").is_in(sorted(DIRECTIONS))
        & (pl.col("score") >= 0) & (pl.col("score") <= 100)
        & pl.col("tf").is_in(list(TIMEFRAME_MS))
        & _finite_positive("price")
        & pl.col("features").str.starts_with("{")
        & plan_ok
    )


def _tick_ok() -> pl.Expr:
    return (
        pl.col("market").is_in(sorted(MARKETS))
        & _finite_positive("price") & _finite_non_negative("qty")
        & pl.col("side").is_in(["buy", "sell", "unknown"])
    )


def _quote_ok() -> pl.Expr:
    return (
        pl.col("market").is_in(sorted(MARKETS))
        & _finite_positive("bid") & _finite_positive("ask")
        & _finite_non_negative("bid_qty") & _finite_non_negative("ask_qty")
        & (pl.col("bid") <= pl.col("ask"))
    )


def _confluence_ok() -> pl.Expr:
    return pl.col("members").str.starts_with("[") & pl.col("closed_candles").str.starts_with("{")


class Dataset:
    """One lake dataset: ``<lake>/<name>/<k>=<v>/.../part-*.parquet``.

    ``schema`` lists the stored columns (partition columns that are record
    fields, like ``exchange`` and ``tf``, are stored too, so a file is readable
    on its own); ``partition_by`` the hive directories, outermost first, where
    ``date`` (YYYY-MM-DD, UTC) is derived from the ``date_from`` ms column.
    ``dedupe_key`` names the column whose repeats the sink drops."""

    def __init__(self, name: str, record: type[msgspec.Struct], schema: pa.Schema,
                 partition_by: tuple[str, ...], date_from: str, *,
                 validate: Callable[[Any], Any] | None = None,
                 check: Callable[[], pl.Expr] | None = None,
                 dedupe_key: str | None = None,
                 convert: dict[str, Callable[[Any], Any]] | None = None) -> None:
        self.name = name
        self.record = record
        self.schema = schema
        self.partition_by = partition_by
        self.date_from = date_from
        self.validate = validate
        self.dedupe_key = dedupe_key
        self.convert = convert or {}
        self.columns = [f.name for f in schema if not f.name.startswith("_")]
        self._one = msgspec.json.Decoder(record)
        self._polars_schema = pl.from_arrow(pa.schema([schema.field(c) for c in self.columns]).empty_table()).schema  # type: ignore[union-attr]
        fields = {f.name: f for f in msgspec.structs.fields(record)}
        self._required = [c for c in self.columns if fields[c].required]
        fills: list[pl.Expr] = []
        for c in self.columns:
            f = fields[c]
            if f.default is not msgspec.NODEFAULT and f.default is not None:
                fills.append(pl.col(c).fill_null(f.default))
            elif f.default_factory is not msgspec.NODEFAULT:
                fills.append(pl.col(c).fill_null(_json_text(f.default_factory())))
        self._fills = fills
        ok = pl.all_horizontal([pl.col(c).is_not_null() for c in self._required]) if self._required else pl.lit(True)
        if check is not None:
            ok = ok & check()
        self._ok = ok.fill_null(False)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r})"

    # -- decoding ---------------------------------------------------------
    def decode_one(self, raw: bytes | None) -> Any:
        """The authority: decode and validate one value or raise RecordError."""
        if raw is None or not raw.strip():
            raise RecordError("empty_value", "message has no value (null or blank)")
        try:
            rec = self._one.decode(raw)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.record.__name__}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", str(exc)) from None
        if self.validate is not None:
            self.validate(rec)
        return rec

    def _parse_columnar(self, values: Sequence[bytes]) -> pl.DataFrame | None:
        try:
            frame = pl.read_ndjson(io.BytesIO(b"\n".join(values)), schema=self._polars_schema)
        except (pl.exceptions.PolarsError, ValueError):
            return None
        if frame.height != len(values):  # a value holding two objects or a bare newline
            return None
        if self._fills:
            frame = frame.with_columns(self._fills)
        return frame

    def decode(self, topic: str, partition: int, offsets: Sequence[int],
               values: Sequence[bytes | None]) -> Decoded:
        """Rows of the accepted values plus the rejected ones with reasons."""
        n = len(values)
        frame: pl.DataFrame | None = None
        if n and all(values):
            frame = self._parse_columnar(values)  # type: ignore[arg-type]
        rejected: list[Rejected] = []
        if frame is None:
            suspects = list(range(n))
            kept_idx: list[int] = []
        else:
            ok = frame.select(self._ok.alias("ok")).to_series()
            if ok.all():
                suspects, kept_idx = [], list(range(n))
            else:
                ok_list = ok.to_list()
                kept_idx = [i for i, good in enumerate(ok_list) if good]
                suspects = [i for i, good in enumerate(ok_list) if not good]
                frame = frame.filter(ok)
        extra_records: list[Any] = []
        extra_idx: list[int] = []
        for i in suspects:
            try:
                extra_records.append(self.decode_one(values[i]))
                extra_idx.append(i)
            except RecordError as exc:
                rejected.append(Rejected(i, exc))
        parts: list[pl.DataFrame] = []
        if frame is not None and frame.height:
            parts.append(self._with_lineage(frame, topic, partition, [offsets[i] for i in kept_idx]))
        if extra_records:
            parts.append(self.frame_of(extra_records, topic, partition, [offsets[i] for i in extra_idx]))
        out = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0] if parts else self.empty_frame()
        return Decoded(out, rejected)

    def _with_lineage(self, frame: pl.DataFrame, topic: str, partition: int, offsets: Sequence[int]) -> pl.DataFrame:
        return frame.with_columns(
            pl.lit(topic, dtype=pl.String).alias("_topic"),
            pl.lit(partition, dtype=pl.Int32).alias("_partition"),
            pl.Series("_offset", offsets, dtype=pl.Int64),
            pl.from_epoch(pl.col(self.date_from), time_unit="ms").dt.strftime("%Y-%m-%d").alias("date"),
        )

    def frame_of(self, records: Sequence[Any], topic: str, partition: int, offsets: Sequence[int]) -> pl.DataFrame:
        """Rows from decoded records (the per-record path): gathered per field."""
        arrays = []
        for name in self.columns:
            conv = self.convert.get(name)
            if conv is None:
                values = [getattr(r, name) for r in records]
            else:
                values = [conv(getattr(r, name)) for r in records]
            arrays.append(pa.array(values, type=self.schema.field(name).type))
        table = pa.Table.from_arrays(arrays, names=self.columns)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return self._with_lineage(frame, topic, partition, offsets)

    def empty_frame(self) -> pl.DataFrame:
        return self._with_lineage(pl.DataFrame(schema=self._polars_schema), "", 0, [])

    def to_arrow(self, frame: pl.DataFrame) -> pa.Table:
        """A frame (without ``date``) as an arrow table in exactly ``schema``."""
        return frame.select([f.name for f in self.schema]).to_arrow(
            compat_level=pl.CompatLevel.oldest()).cast(self.schema)


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in fields] + LINEAGE_FIELDS)


def _trade_plan(tp: Any) -> dict[str, Any] | None:
    if tp is None:
        return None
    return {"entry": tp.entry, "stop": tp.stop, "tp1": tp.tp1, "tp2": tp.tp2, "eta_bars": tp.eta_bars}


_S, _I, _F = pa.string(), pa.int64(), pa.float64()

CANDLES = Dataset(
    "candles", Candle,
    _schema(
        ("exchange", _S), ("market", _S), ("symbol", _S), ("tf", _S),
        ("open_time", _I), ("close_time", _I), ("open", _F), ("high", _F), ("low", _F),
        ("close", _F), ("volume", _F), ("quote_volume", _F), ("trades", _I),
        ("provenance", _S), ("event_time", _I), ("received_at", _I), ("missing_minutes", _I),
    ),
    partition_by=("exchange", "tf", "date"), date_from="open_time",
    validate=validate_candle, check=_candle_ok,
)

SIGNALS = Dataset(
    "signals", Signal,
    _schema(
        ("id", _S), ("exchange", _S), ("market", _S), ("symbol", _S), ("tf", _S),
        ("detector", _S), ("detector_version", _S), ("params_hash", _S),
        ("open_time", _I), ("event_time", _I), ("emitted_at", _I),
        ("signal_type", _S), ("direction", _S), ("score", _F), ("price", _F),
        ("features", _S), ("trade_plan", TRADE_PLAN_TYPE),
    ),
    partition_by=("exchange", "tf", "date"), date_from="open_time",
    validate=validate_signal, check=_signal_ok, dedupe_key="id",
    convert={"features": _json_text, "trade_plan": _trade_plan},
)

CONFLUENCE = Dataset(
    "confluence", Confluence,
    _schema(
        ("id", _S), ("exchange", _S), ("market", _S), ("symbol", _S),
        ("event_time", _I), ("emitted_at", _I), ("direction", _S), ("score", _F),
        ("members", _S), ("closed_candles", _S),
    ),
    partition_by=("exchange", "date"), date_from="event_time",
    check=_confluence_ok, dedupe_key="id",
    convert={"members": lambda m: _json_text(m), "closed_candles": _json_text},
)

DEADLETTER = Dataset(
    "deadletter", DeadLetter,
    _schema(
        ("source", _S), ("reason", _S), ("detail", _S), ("raw", _S),
        ("topic", _S), ("partition", pa.int32()), ("offset", _I), ("received_at", _I),
    ),
    partition_by=("date",), date_from="received_at",
)

TICKS = Dataset(
    "ticks", Tick,
    _schema(
        ("exchange", _S), ("market", _S), ("symbol", _S), ("trade_id", _S), ("price", _F),
        ("qty", _F), ("side", _S), ("event_time", _I), ("received_at", _I),
    ),
    partition_by=("exchange", "date"), date_from="event_time",
    validate=validate_tick, check=_tick_ok,
)

QUOTES = Dataset(
    "quotes", Quote,
    _schema(
        ("exchange", _S), ("market", _S), ("symbol", _S), ("bid", _F), ("bid_qty", _F),
        ("ask", _F), ("ask_qty", _F), ("event_time", _I), ("received_at", _I),
    ),
    partition_by=("exchange", "date"), date_from="event_time",
    validate=validate_quote, check=_quote_ok,
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (CANDLES, SIGNALS, CONFLUENCE, DEADLETTER, TICKS, QUOTES)}


def dataset_for_topic(topic: str) -> Dataset:
    """The dataset a topic lands in; raises ``KeyError`` naming the topic."""
    if topic in (topics.CANDLES_1M, topics.CANDLES):
        return CANDLES
    if topic == topics.CONFLUENCE:
        return CONFLUENCE
    if topic.startswith(topics.SIGNALS_PREFIX):
        return SIGNALS
    if topic == topics.DEADLETTER:
        return DEADLETTER
    if topic == topics.TICKS:
        return TICKS
    if topic == topics.QUOTES:
        return QUOTES
    raise KeyError(f"topic {topic!r} has no lake dataset (known: md.candles.1m, md.candles, "
                   "signals.*, deadletter, md.ticks, md.quotes)")
