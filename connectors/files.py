"""Read candle files of the formats found in the wild into one normalized frame.

Supported: CSV (with or without header, ``.gz`` too; a leading preamble line such
as CryptoDataDownload's is skipped; Binance kline CSV with 12 columns), parquet,
feather, JSON arrays in ccxt order ``[[ts, o, h, l, c, v], ...]`` (``.json`` or
``.json.gz``), and pandas "columns"-orient JSON. Times may be seconds,
milliseconds, microseconds or nanoseconds since the epoch, or date strings
(taken as UTC). jesse-style ``timestamp_ms,open,close,high,low,volume`` headers
are read by name, so column order never matters when there is a header.

The result has columns open_time (int64 ms), open, high, low, close, volume
(float64) and, when the file has them, quote_volume and trades; sorted by open
time. Nothing is dropped here: validation (and dead-lettering) is the caller's.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from detectors.timeframes import TIMEFRAME_MS, infer_timeframe

TIME_COLUMNS = ("open_time", "timestamp_ms", "timestamp", "time", "date", "datetime", "date time", "t", "ts", "unix")
BINANCE_KLINE_COLUMNS = ["open_time", "open", "high", "low", "close", "volume", "close_time",
                         "quote_volume", "trades", "taker_base", "taker_quote", "ignore"]
CCXT_COLUMNS = ["open_time", "open", "high", "low", "close", "volume"]
KNOWN_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")


class CandleFileError(ValueError):
    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)


def _open_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def _looks_numeric(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def _read_csv(path: Path) -> pd.DataFrame:
    text = _open_bytes(path).decode("utf-8", errors="replace")
    lines = text.splitlines()
    if not lines:
        raise CandleFileError(path, "file is empty")
    start = 0
    # a preamble line (e.g. "Timestamps are UTC timezone,https://...") has fewer
    # separators than the header that follows it
    if len(lines) > 1 and lines[0].count(",") < lines[1].count(",") and not _looks_numeric(lines[0].split(",")[0]):
        start = 1
    first = lines[start].split(",")
    body = "\n".join(lines[start:])
    if all(_looks_numeric(tok) for tok in first if tok.strip()):
        n = len(first)
        if n >= 12:
            names = BINANCE_KLINE_COLUMNS + [f"extra_{i}" for i in range(n - 12)]
        elif n >= 6:
            names = CCXT_COLUMNS + [f"extra_{i}" for i in range(n - 6)]
        else:
            raise CandleFileError(path, f"headerless CSV with {n} columns; expected ccxt order ts,o,h,l,c,v")
        return pd.read_csv(io.StringIO(body), header=None, names=names)
    return pd.read_csv(io.StringIO(body))


def _read_json(path: Path) -> pd.DataFrame:
    obj = json.loads(_open_bytes(path))
    if isinstance(obj, list):
        if not obj:
            return pd.DataFrame(columns=CCXT_COLUMNS)
        if isinstance(obj[0], list):
            width = len(obj[0])
            names = (BINANCE_KLINE_COLUMNS if width >= 12 else CCXT_COLUMNS)[:width]
            names += [f"extra_{i}" for i in range(width - len(names))]
            return pd.DataFrame(obj, columns=names)
        if isinstance(obj[0], dict):
            return pd.DataFrame(obj)
    if isinstance(obj, dict):
        if all(isinstance(v, dict) for v in obj.values()):  # pandas "columns" orient
            return pd.DataFrame({k: pd.Series(v) for k, v in obj.items()})
        if all(isinstance(v, list) for v in obj.values()):
            return pd.DataFrame(obj)
    raise CandleFileError(path, "JSON is neither an array of [ts,o,h,l,c,v] rows nor a column mapping")


def _to_ms(col: pd.Series, path: Path) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(col):
        s = col.dt.tz_convert("UTC") if getattr(col.dt, "tz", None) is not None else col.dt.tz_localize("UTC")
        return (s.astype("int64") // 1_000_000 if s.dt.unit == "ns" else
                s.dt.as_unit("ms").astype("int64")).to_numpy(dtype=np.int64)
    if pd.api.types.is_numeric_dtype(col):
        v = col.to_numpy(dtype=np.float64)
        med = float(np.nanmedian(np.abs(v))) if len(v) else 0.0
        if med < 1e11:
            scale = 1000.0  # seconds
        elif med < 1e14:
            scale = 1.0  # milliseconds
        elif med < 1e17:
            scale = 1e-3  # microseconds
        else:
            scale = 1e-6  # nanoseconds
        return np.round(v * scale).astype(np.int64)
    text = col.astype(str)
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    if parsed.isna().any():  # CryptoDataDownload hourly style: "2019-10-17 09-AM"
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="%Y-%m-%d %I-%p")
    if parsed.isna().any():
        bad = col[parsed.isna()].iloc[0]
        raise CandleFileError(path, f"cannot parse time value {bad!r}")
    return (parsed.astype("int64") // 1_000_000).to_numpy(dtype=np.int64) if parsed.dt.unit == "ns" else \
        parsed.dt.as_unit("ms").astype("int64").to_numpy(dtype=np.int64)


def read_candle_file(path: str | Path) -> pd.DataFrame:
    """Load a candle file into the normalized frame described in the module doc."""
    p = Path(path)
    if not p.is_file():
        raise CandleFileError(p, "no such file")
    name = p.name.lower()
    if name.endswith(".feather"):
        df = pd.read_feather(p)
    elif name.endswith(".parquet"):
        df = pd.read_parquet(p)
    elif name.endswith((".json", ".json.gz")):
        df = _read_json(p)
    elif name.endswith((".csv", ".csv.gz", ".txt")):
        df = _read_csv(p)
    else:
        raise CandleFileError(p, "unknown extension; expected .csv, .json, .parquet or .feather (optionally .gz)")
    if df.index.name and df.index.name.lower() in TIME_COLUMNS:
        df = df.reset_index()
    df.columns = [str(c).strip().lower() for c in df.columns]
    if "unnamed: 0" in df.columns and not any(c in df.columns for c in TIME_COLUMNS):
        df = df.rename(columns={"unnamed: 0": "date"})
    time_col = next((c for c in TIME_COLUMNS if c in df.columns), None)
    if time_col is None:
        raise CandleFileError(p, f"no time column; looked for {list(TIME_COLUMNS)}, found {list(df.columns)}")
    missing = [c for c in ("open", "high", "low", "close") if c not in df.columns]
    if missing:
        raise CandleFileError(p, f"missing price column(s) {missing}; found {list(df.columns)}")
    out = pd.DataFrame({"open_time": _to_ms(df[time_col], p)})
    for c in ("open", "high", "low", "close"):
        out[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
    vol_col = "volume" if "volume" in df.columns else next((c for c in df.columns if c.startswith("volume")), None)
    out["volume"] = (pd.to_numeric(df[vol_col], errors="coerce").to_numpy(dtype=np.float64)
                     if vol_col else np.zeros(len(df)))
    if "quote_volume" in df.columns:
        out["quote_volume"] = pd.to_numeric(df["quote_volume"], errors="coerce").to_numpy(dtype=np.float64)
    if "symbol" in df.columns and df["symbol"].nunique() == 1:
        out.attrs["symbol"] = str(df["symbol"].iloc[0])
    if "trades" in df.columns:
        out["trades"] = pd.to_numeric(df["trades"], errors="coerce").astype("Int64")
    attrs = dict(out.attrs)
    out = out.sort_values("open_time", kind="stable").reset_index(drop=True)
    out.attrs.update(attrs)
    return out


def dominant_timeframe(open_times: Sequence[int] | np.ndarray) -> str:
    """The timeframe whose length is the most common step between open times."""
    t = np.asarray(open_times, dtype=np.int64)
    steps = np.diff(np.unique(t))
    if len(steps) == 0:
        raise ValueError("cannot infer a timeframe from fewer than two distinct open times")
    vals, counts = np.unique(steps, return_counts=True)
    return infer_timeframe(int(vals[np.argmax(counts)]))


_PAIR_RE = re.compile(r"^([A-Za-z0-9]+)[_\-/]([A-Za-z0-9]+)(?:[_\-].*)?$")


def infer_symbol(path: str | Path) -> str | None:
    """Unified symbol from a file name: ``XRP_ETH-1m.feather`` -> ``XRP/ETH``,
    ``ADABTC-1m-2021-11-27.csv`` -> ``ADA/BTC``; None when it cannot tell."""
    stem = Path(path).name.split(".")[0]
    tokens = re.split(r"[-_]", stem)
    tfs = set(TIMEFRAME_MS)
    words = [t for t in tokens if t and t.lower() not in tfs and not t.isdigit()]
    if len(words) >= 2 and words[1].upper() in KNOWN_QUOTES:
        return f"{words[0].upper()}/{words[1].upper()}"
    if len(words) >= 2 and words[1].upper() == "PERP":
        return f"{words[0].upper()}-PERP"
    return split_pair(words[0]) if words else None


def split_pair(word: str) -> str | None:
    """``ADABTC`` -> ``ADA/BTC`` by a known quote suffix; None when none matches."""
    w = word.upper()
    for q in KNOWN_QUOTES:
        if w.endswith(q) and len(w) > len(q):
            return f"{w[: -len(q)]}/{q}"
    return None


KNOWN_EXCHANGES = ("binance", "bybit", "okx", "gateio", "kucoin", "mexc", "coinbase", "kraken", "bitstamp", "bitfinex", "bittrex", "ftx")


def infer_exchange(path: str | Path) -> str | None:
    low = str(path).lower()
    for ex in KNOWN_EXCHANGES:
        if ex in low:
            return ex
    return None
