"""DuckDB views over the lake.

``open_catalog(lake_dir)`` returns an in-memory DuckDB connection with one view
per dataset: ``candles``, ``signals``, ``confluence``, ``deadletter``,
``ticks``, ``quotes`` (deduplicated), and ``<name>_raw`` (every stored row).
Each raw view reads ``<lake>/<name>/**/*.parquet`` with hive partitioning and
``union_by_name``; the hive columns are typed explicitly (``exchange`` and
``tf`` VARCHAR, ``date`` DATE). A dataset with no file yet is an empty view
with the same columns, so queries on an empty lake return zero rows instead of
an error. :class:`LakeCatalog` re-checks empty datasets before each query so a
long-lived process (the API) sees data as soon as the sink lands it.

Deduplication rules:

- ``candles``: one row per (exchange, market, symbol, tf, open_time), the one
  received last (corrections and the same candle on ``md.candles.1m`` and
  ``md.candles`` collapse to the newest version).
- ``signals`` / ``confluence``: one row per ``id`` (the sink already stores an
  id once; the view guarantees it for lakes written by several sinks).
- ``deadletter``: one row per rejected (topic, partition, offset, source,
  reason): a dead letter re-published after a crash counts once.
- ``ticks``: one row per (exchange, market, symbol, trade_id).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from sinks.datasets import DATASETS, Dataset

_DEDUPE: dict[str, str] = {
    "candles": "QUALIFY row_number() OVER (PARTITION BY exchange, market, symbol, tf, open_time "
               "ORDER BY received_at DESC, _topic DESC, _offset DESC) = 1",
    "signals": "QUALIFY row_number() OVER (PARTITION BY id ORDER BY emitted_at, _offset) = 1",
    "confluence": "QUALIFY row_number() OVER (PARTITION BY id ORDER BY emitted_at, _offset) = 1",
    "deadletter": "QUALIFY topic IS NULL OR row_number() OVER (PARTITION BY topic, \"partition\", \"offset\", "
                  "source, reason ORDER BY received_at) = 1",
    "ticks": "QUALIFY row_number() OVER (PARTITION BY exchange, market, symbol, trade_id "
             "ORDER BY received_at DESC) = 1",
}


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_struct(t):
        inner = ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in t)
        return f"STRUCT({inner})"
    raise TypeError(f"no DuckDB type for arrow type {t}")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(ds: Dataset) -> list[str]:
    cols = [f'"{f.name}"' for f in ds.schema]
    if "date" not in ds.schema.names:
        cols.append('"date"')
    return cols


def dataset_has_files(lake_dir: Path, ds: Dataset) -> bool:
    """True as soon as one data file of ``ds`` exists (stops at the first)."""
    root = lake_dir / ds.name
    if not root.is_dir():
        return False
    for _dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".parquet") and not name.startswith("."):
                return True
    return False


def raw_view_sql(lake_dir: Path, ds: Dataset, has_files: bool) -> str:
    cols = ", ".join(_columns(ds))
    if not has_files:
        typed = [f'CAST(NULL AS {_duck_type(f.type)}) AS "{f.name}"' for f in ds.schema]
        typed.append('CAST(NULL AS DATE) AS "date"')
        return f"CREATE OR REPLACE VIEW {ds.name}_raw AS SELECT {', '.join(typed)} WHERE false"
    pattern = _sql_string(str(lake_dir.resolve() / ds.name) + "/**/*.parquet")
    hive = {c: "VARCHAR" for c in ds.partition_by if c != "date"} | {"date": "DATE"}
    hive_types = "{" + ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in hive.items()) + "}"
    return (f"CREATE OR REPLACE VIEW {ds.name}_raw AS SELECT {cols} FROM read_parquet({pattern}, "
            f"hive_partitioning = true, union_by_name = true, hive_types = {hive_types})")


def view_sql(ds: Dataset) -> str:
    dedupe = _DEDUPE.get(ds.name, "")
    return f"CREATE OR REPLACE VIEW {ds.name} AS SELECT * FROM {ds.name}_raw {dedupe}"


class LakeCatalog:
    """A DuckDB database whose views follow the lake. Thread-safe: each caller
    gets its own cursor from :meth:`cursor`. No I/O in the constructor."""

    def __init__(self, lake_dir: str | os.PathLike[str]) -> None:
        self.lake_dir = Path(lake_dir)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._present: dict[str, bool] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """(Re)define views of datasets whose presence changed since last time."""
        with self._lock:
            if self._con is None:
                self._con = duckdb.connect(":memory:")
            for ds in DATASETS.values():
                if self._present.get(ds.name):
                    continue  # stays readable; files are found by the glob at query time
                has = dataset_has_files(self.lake_dir, ds)
                if ds.name in self._present and self._present[ds.name] == has:
                    continue
                self._con.execute(raw_view_sql(self.lake_dir, ds, has))
                self._con.execute(view_sql(ds))
                self._present[ds.name] = has

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The catalog's connection with current views (single-threaded use)."""
        self.refresh()
        assert self._con is not None
        return self._con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor with current views, for one thread or one request."""
        return self.connection().cursor()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        cur = self.cursor()
        try:
            return cur.sql(sql, params=list(params) if params else None).to_arrow_table()
        finally:
            cur.close()

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        cur = self.cursor()
        try:
            rel = cur.execute(sql, params or [])
            names = [d[0] for d in rel.description or []]
            return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
                self._present.clear()


def open_catalog(lake_dir: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake's views defined."""
    return LakeCatalog(lake_dir).connection()


def query(lake_dir: str | os.PathLike[str], sql: str) -> pd.DataFrame:
    """Run ``sql`` against the lake's views (``scanflow sql "SELECT ..."``).

    Returns a pandas DataFrame (empty, with columns, when nothing matches);
    DuckDB errors (syntax, unknown column) propagate as ``duckdb.Error`` with
    DuckDB's message."""
    con = open_catalog(lake_dir)
    try:
        rel = con.sql(sql)
        if rel is None:  # a statement without a result (SET, CREATE VIEW ...)
            return pd.DataFrame()
        return rel.df()
    finally:
        con.close()
