"""Real candles for detector and indicator tests, read in place from the shared
market data set (never copied into the repo; see its MANIFEST.md).

Every loader returns a pandas frame with columns ``open_time`` (int64 UTC ms),
``open``, ``high``, ``low``, ``close``, ``volume`` (float64), sorted by open time.
The data is deliberately imperfect: gaps, flat bars (o=h=l=c), zero volume,
several exchanges and price scales from 1e-5 to 5e4.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd

from tests.market import shared_market_dir  # the one place that knows where shared/ is

COLUMNS = ["open_time", "open", "high", "low", "close", "volume"]




def _ms(col: pd.Series) -> np.ndarray:
    """UTC epoch milliseconds of a datetime-like column, whatever its unit."""
    return pd.to_datetime(col, utc=True).dt.as_unit("ms").astype("int64").to_numpy()


def _frame(t: np.ndarray, o, h, lo, c, v) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    df = pd.DataFrame({
        "open_time": np.asarray(t, dtype=np.int64),
        "open": np.asarray(o, dtype=np.float64),
        "high": np.asarray(h, dtype=np.float64),
        "low": np.asarray(lo, dtype=np.float64),
        "close": np.asarray(c, dtype=np.float64),
        "volume": np.asarray(v, dtype=np.float64),
    })
    return df.sort_values("open_time", kind="stable").reset_index(drop=True)


def freqtrade_json(name: str = "POWR_BTC") -> pd.DataFrame:
    """freqtrade ``history-2019/<name>-1m.json``: Bittrex 1m, [ts_ms, o, h, l, c, v]
    rows; POWR/BTC has 1,719 gaps and 4,024 flat bars at prices around 1e-4."""
    rows = np.array(json.loads((shared_market_dir() / "freqtrade" / "history-2019" / f"{name}-1m.json").read_text()))
    return _frame(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5])


def freqtrade_feather(rel: str = "XRP_ETH-1m.feather") -> pd.DataFrame:
    """freqtrade feather (date[UTC], open, high, low, close, volume); the default,
    Binance XRP/ETH 1m, has 676 gaps in 2,469 bars and 963 flat bars."""
    df = pd.read_feather(shared_market_dir() / "freqtrade" / rel)
    t = _ms(df["date"])
    return _frame(t, df["open"], df["high"], df["low"], df["close"], df["volume"])


def nautilus_btc_perp(rows: int | None = None) -> pd.DataFrame:
    """FTX BTC-PERP 1m for a month (45,031 bars, USD volume); naive UTC timestamps."""
    path = shared_market_dir() / "nautilus_trader" / "btc-perp-20211231-20220201_1m.csv"
    df = pd.read_csv(path, nrows=rows)
    return _frame(_ms(df["timestamp"]), df["open"], df["high"], df["low"], df["close"], df["volume"])


def jesse_csv(name: str = "test_candles_0__test_candles_0") -> pd.DataFrame:
    """jesse arrays as CSV. Column ORDER is jesse's: timestamp_ms, open, CLOSE, HIGH,
    LOW, volume (the header names them), except ``wavetrend_candles`` (OHLC)."""
    df = pd.read_csv(shared_market_dir() / "jesse" / f"{name}.csv")
    return _frame(df["timestamp_ms"], df["open"], df["high"], df["low"], df["close"], df["volume"])


def octobot_legacy(name: str = "binance_POWR_BTC_20180722_234855", tf: str = "1m") -> pd.DataFrame:
    """OctoBot legacy gzip JSON, columnar {tf: [[t], [o], [h], [l], [c], [v]]}; time
    in seconds except the BTC/USDT file (ms). Binance POWR/BTC 1m has 197
    zero-volume bars out of 500."""
    path = shared_market_dir() / "octobot" / "legacy-gzjson" / f"{name}.data"
    with gzip.open(path, "rt") as fh:
        data = json.load(fh)[tf]
    t = np.asarray(data[0], dtype=np.float64)
    t = t * 1000 if t.max() < 1e11 else t
    return _frame(t.round().astype(np.int64), *data[1:6])


#: Named real series the contract suite runs over (name -> loader).
SERIES: dict[str, Callable[[], pd.DataFrame]] = {
    "bittrex_powr_btc_1m": lambda: freqtrade_json("POWR_BTC"),
    "bittrex_eth_btc_1m": lambda: freqtrade_json("ETH_BTC"),
    "binance_xrp_eth_1m": lambda: freqtrade_feather("XRP_ETH-1m.feather"),
    "ftx_btc_perp_1m": lambda: nautilus_btc_perp(),
    "jesse_btc_1m": lambda: jesse_csv("test_candles_0__test_candles_0"),
    "jesse_eth_1d": lambda: jesse_csv("test_candles_indicators__test_candles_19"),
    "binance_powr_btc_1m_zero_volume": lambda: octobot_legacy(),
    "binance_btc_usdt_1h": lambda: octobot_legacy("binance_BTC_USDT_20180428_121156", "1h"),
}


@cache
def _load_cached(name: str) -> pd.DataFrame:
    return SERIES[name]()


def load(name: str) -> pd.DataFrame:
    """A fresh copy of a named series (cached read)."""
    return _load_cached(name).copy()


def tiled(n: int = 100_000, sources: tuple[str, ...] = ("ftx_btc_perp_1m", "bittrex_powr_btc_1m",
                                                         "binance_xrp_eth_1m")) -> pd.DataFrame:
    """At least ``n`` bars of real candles: the ``sources`` concatenated (and repeated)
    end to end, each copy shifted in time to follow the previous one by one bar and
    rescaled so that it opens at the previous copy's last close."""
    parts: list[pd.DataFrame] = []
    total = 0
    next_t = 1_500_000_000_000 - 1_500_000_000_000 % 60_000
    i = 0
    while total < n:
        df = load(sources[i % len(sources)])
        df["open_time"] = df["open_time"] - df["open_time"].iloc[0] + next_t
        if parts:  # continue from the previous close: no 8-decade price jump at the seam
            scale = float(parts[-1]["close"].iloc[-1]) / float(df["open"].iloc[0])
            for col in ("open", "high", "low", "close"):
                df[col] = df[col] * scale
        next_t = int(df["open_time"].iloc[-1]) + 60_000
        parts.append(df)
        total += len(df)
        i += 1
    return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def with_bad_rows(frame: pd.DataFrame, every: int = 97, seed: int = 7) -> pd.DataFrame:
    """A copy with every ``every``-th row damaged in turn: NaN close, NaN volume,
    infinite high, zero price, negative volume, high below low."""
    df = frame.copy()
    rng = np.random.default_rng(seed)
    idx = np.arange(every // 2, len(df), every)
    damages = [("close", np.nan), ("volume", np.nan), ("high", np.inf), ("open", 0.0),
               ("volume", -1.0), ("low", None)]
    for k, i in enumerate(idx):
        col, val = damages[(k + int(rng.integers(0, 6))) % len(damages)]
        if val is None:  # high below low
            df.loc[i, "low"] = df.loc[i, "high"] * 1.5
        else:
            df.loc[i, col] = val
    return df


def bad_row_positions(frame: pd.DataFrame) -> np.ndarray:
    """Open times of rows the detectors must treat as missing data."""
    o, h, lo, c, v = (frame[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume"))
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v)
              & (o > 0) & (h > 0) & (lo > 0) & (c > 0) & (v >= 0) & (h >= lo))
    return frame["open_time"].to_numpy()[~ok]
