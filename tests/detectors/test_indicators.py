"""Indicators: vectorized == incremental bit for bit on real candles, TA-Lib
parity (1e-9 relative after warm-up, same warm-up length), update_last, bounded
state, and hand checks for the indicators TA-Lib does not have."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import talib
from market_data import load, tiled

import detectors.indicators as ind
from detectors.indicators import INDICATORS

pytestmark = pytest.mark.unit

REAL = ("bittrex_powr_btc_1m", "binance_xrp_eth_1m", "ftx_btc_perp_1m", "jesse_btc_1m",
        "jesse_eth_1d", "binance_powr_btc_1m_zero_volume")


def columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    cols = {k: frame[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume")}
    cols["open_time"] = frame["open_time"].to_numpy(dtype=np.int64)
    c = cols["close"]
    cols["other"] = np.r_[c[:7], c[:-7]] * 1.01  # a lagged real series for correlation
    return cols


def as_tuple(v: object) -> tuple[float, ...]:
    return v if isinstance(v, tuple) else (v,)  # type: ignore[return-value]


def run_incremental(spec: ind.IndicatorSpec, cols: dict[str, np.ndarray]) -> list[np.ndarray]:
    obj = spec.cls(**spec.params)
    args = [cols[k].tolist() for k in spec.inputs]
    rows = [as_tuple(obj.update(*vals)) for vals in zip(*args, strict=True)]
    return list(np.array(rows, dtype=np.float64).T)


def run_vectorized(spec: ind.IndicatorSpec, cols: dict[str, np.ndarray]) -> list[np.ndarray]:
    out = spec.function(*(cols[k] for k in spec.inputs), **spec.params)
    return list(out) if isinstance(out, tuple) else [out]


# ---- vectorized == incremental ------------------------------------------------

@pytest.mark.parametrize("series", REAL)
@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_vectorized_equals_incremental_exactly(name: str, series: str) -> None:
    spec = INDICATORS[name]
    cols = columns(load(series))
    vec = run_vectorized(spec, cols)
    inc = run_incremental(spec, cols)
    assert len(vec) == len(spec.outputs)
    for out_name, a, b in zip(spec.outputs, vec, inc, strict=True):
        assert a.shape == b.shape
        diff = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))
        assert diff.size == 0, f"{name}.{out_name} on {series}: first difference at bar {diff[:1]}"
        lookback = spec.cls(**spec.params).lookback  # of the first output (ADX's DIs start earlier)
        if out_name == spec.outputs[0]:
            assert np.isnan(a[:lookback]).all(), f"{name}.{out_name}: value before warm-up"
        if len(a) > lookback:
            assert np.isfinite(a[lookback:]).all(), f"{name}.{out_name}: NaN after warm-up on {series}"


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_nan_input_is_handled_identically_and_never_crashes(name: str) -> None:
    spec = INDICATORS[name]
    cols = columns(load("jesse_btc_1m"))
    for k in ("close", "high", "volume"):
        cols[k] = cols[k].copy()
        cols[k][[100, 400, 401]] = np.nan
    for a, b in zip(run_vectorized(spec, cols), run_incremental(spec, cols), strict=True):
        assert np.array_equal(a, b, equal_nan=True)


# ---- TA-Lib parity -------------------------------------------------------------

def _talib_pairs(cols: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    o, h, lo, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
    pairs = [
        ("sma", ind.sma(c, 20), talib.SMA(c, 20)),
        ("ema", ind.ema(c, 20), talib.EMA(c, 20)),
        ("wma", ind.wma(c, 20), talib.WMA(c, 20)),
        ("rsi", ind.rsi(c, 14), talib.RSI(c, 14)),
        ("atr", ind.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14)),
        ("natr", ind.natr(h, lo, c, 14), talib.NATR(h, lo, c, 14)),
        ("obv", ind.obv(c, v), talib.OBV(c, v)),
    ]
    for nm, a, b in zip(("macd", "signal", "hist"), ind.macd(c, 12, 26, 9), talib.MACD(c, 12, 26, 9), strict=True):
        pairs.append((f"macd.{nm}", a, b))
    for nm, a, b in zip(("k", "d"), ind.stochrsi(c, 14, 14, 3), talib.STOCHRSI(c, 14, 14, 3, 0), strict=True):
        pairs.append((f"stochrsi.{nm}", a, b))
    for nm, a, b in zip(("upper", "middle", "lower"), ind.bbands(c, 20, 2.0, 2.0),
                        talib.BBANDS(c, 20, 2.0, 2.0, 0), strict=True):
        pairs.append((f"bbands.{nm}", a, b))
    a, p, m = ind.adx(h, lo, c, 14)
    pairs += [("adx", a, talib.ADX(h, lo, c, 14)), ("plus_di", p, talib.PLUS_DI(h, lo, c, 14)),
              ("minus_di", m, talib.MINUS_DI(h, lo, c, 14))]
    return pairs


def assert_parity(label: str, ours: np.ndarray, ref: np.ndarray, rtol: float = 1e-9) -> None:
    assert np.array_equal(np.isnan(ours), np.isnan(ref)), f"{label}: warm-up differs from TA-Lib"
    ok = ~np.isnan(ref)
    if not ok.any():
        return
    scale = np.maximum(np.abs(ref[ok]), 1e-3 * np.max(np.abs(ref[ok])))
    err = np.abs(ours[ok] - ref[ok]) / scale
    worst = int(np.argmax(err))
    assert err[worst] <= rtol, f"{label}: relative error {err[worst]:.3g} at bar {np.flatnonzero(ok)[worst]}"


# Raw prices from 1e-4 (POWR/BTC) to 5e4 (BTC), plus one rescaled copy.
@pytest.mark.parametrize(("series", "scale"), [
    ("ftx_btc_perp_1m", 1.0), ("jesse_btc_1m", 1.0), ("jesse_eth_1d", 1.0), ("binance_btc_usdt_1h", 1.0),
    ("bittrex_eth_btc_1m", 1.0), ("bittrex_powr_btc_1m", 1.0), ("binance_xrp_eth_1m", 1.0),
    ("binance_powr_btc_1m_zero_volume", 1.0), ("bittrex_powr_btc_1m", 1e6),
])
def test_talib_parity_on_real_candles(series: str, scale: float) -> None:
    cols = columns(load(series))
    for k in ("open", "high", "low", "close"):
        cols[k] = cols[k] * scale
    for label, ours, ref in _talib_pairs(cols):
        if label == "rsi":  # documented: a perfectly flat window is 50 here, 0 in TA-Lib
            flat = (ours == 50.0) & (ref == 0.0)
            ours = np.where(flat, 0.0, ours)
        assert_parity(f"{label} on {series}", ours, ref)


def test_talib_parity_correlation_of_real_returns() -> None:
    """CORREL on percent returns of two real pairs over the same minutes."""
    a, b = load("bittrex_eth_btc_1m"), load("bittrex_powr_btc_1m")
    j = a.merge(b, on="open_time", suffixes=("_a", "_b"))
    x = np.diff(j["close_a"].to_numpy()) / j["close_a"].to_numpy()[:-1] * 100
    y = np.diff(j["close_b"].to_numpy()) / j["close_b"].to_numpy()[:-1] * 100
    ours, ref = ind.rolling_corr(x, y, 30), talib.CORREL(x, y, 30)
    flat = (ours == 0.0) & (ref == 0.0)
    assert flat.sum() < len(x) // 10
    assert_parity("rolling_corr on ETH/BTC vs POWR/BTC returns", ours, ref)
    assert np.nanmax(np.abs(ours)) <= 1.0 + 1e-12


def test_flat_rsi_is_neutral_where_talib_says_zero() -> None:
    """The one documented difference: a perfectly flat window is RSI 50, not 0."""
    c = np.full(40, 1.234e-5)
    assert talib.RSI(c, 14)[-1] == 0.0
    assert (ind.rsi(c, 14)[14:] == 50.0).all()
    powr = load("bittrex_powr_btc_1m")["close"].to_numpy()  # scale-invariant on 1e-4 prices
    np.testing.assert_allclose(ind.rsi(powr, 14)[14:], ind.rsi(powr * 1e6, 14)[14:], rtol=1e-9, atol=1e-9)


# ---- update_last, bounded state --------------------------------------------------

@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_update_last_replaces_the_open_bar(name: str) -> None:
    spec = INDICATORS[name]
    cols = columns(load("binance_xrp_eth_1m").iloc[:300])
    args = [cols[k].tolist() for k in spec.inputs]
    plain, live = spec.cls(**spec.params), spec.cls(**spec.params)
    for vals in zip(*args, strict=True):
        expected = as_tuple(plain.update(*vals))
        wobble = tuple(v * 1.003 if isinstance(v, float) else v for v in vals)
        live.update(*wobble)          # the candle while still open
        live.update_last(*wobble[:1], *vals[1:]) if len(vals) > 1 else live.update_last(wobble[0])
        got = as_tuple(live.update_last(*vals))  # its final values
        assert np.array_equal(np.array(got), np.array(expected), equal_nan=True)
        assert live.count == plain.count


def test_update_last_before_any_update_is_an_error() -> None:
    with pytest.raises(ValueError, match="RSI.update_last"):
        ind.RSI(14).update_last(1.0)


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_state_stays_bounded_over_100k_bars(name: str) -> None:
    spec = INDICATORS[name]
    cols = columns(tiled(100_000))
    obj = spec.cls(**spec.params)
    args = [cols[k].tolist() for k in spec.inputs]
    sizes = []
    for i, vals in enumerate(zip(*args, strict=True)):
        obj.update(*vals)
        if i in (70_000, 99_999):  # both with 4-byte bar counters in the pickle
            sizes.append(len(pickle.dumps(obj)))
    assert sizes[1] <= sizes[0], f"{name}: state grew from {sizes[0]} to {sizes[1]} bytes"
    for out in run_vectorized(spec, cols):
        assert np.isfinite(out[obj.lookback:]).all()


# ---- indicators TA-Lib does not have ---------------------------------------------

def test_vwap_resets_each_utc_day_and_matches_pandas() -> None:
    df = load("binance_btc_usdt_1h")
    tp = (df.high + df.low + df.close) / 3
    day = df.open_time // 86_400_000
    expected = (tp * df.volume).groupby(day).cumsum() / df.volume.groupby(day).cumsum()
    got = ind.vwap(df.high, df.low, df.close, df.volume, df.open_time)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-12)
    first = np.r_[True, np.diff(day.to_numpy()) != 0]
    np.testing.assert_allclose(got[first], tp.to_numpy()[first], rtol=1e-12)


def test_vwap_zero_volume_day_start_is_typical_price() -> None:
    t = np.array([0, 60_000, 120_000])
    got = ind.vwap([10.0, 12.0, 11.0], [8.0, 9.0, 10.0], [9.0, 10.5, 10.5], [0.0, 0.0, 2.0], t)
    assert got[0] == pytest.approx(9.0) and got[1] == pytest.approx(31.5 / 3)
    assert got[2] == pytest.approx(10.5)  # the day's only volume is bar 3


def test_heikin_ashi_definition() -> None:
    df = load("jesse_eth_1d")
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    ho, hh, hl, hc = ind.heikin_ashi(o, h, lo, c)
    np.testing.assert_allclose(hc, (o + h + lo + c) / 4, rtol=1e-15)
    assert ho[0] == pytest.approx((o[0] + c[0]) / 2)
    np.testing.assert_allclose(ho[1:], (ho[:-1] + hc[:-1]) / 2, rtol=1e-15)
    np.testing.assert_array_equal(hh, np.maximum.reduce([h, ho, hc]))
    np.testing.assert_array_equal(hl, np.minimum.reduce([lo, ho, hc]))


def test_supertrend_flips_with_the_trend() -> None:
    up = np.linspace(100, 200, 60)
    down = np.linspace(200, 80, 60)
    c = np.r_[up, down]
    h, lo = c * 1.005, c * 0.995
    line, d = ind.supertrend(h, lo, c, period=10, multiplier=3.0)
    assert np.isnan(d[:10]).all() and d[10] == -1.0          # starts down, on the upper band
    assert (d[20:60] == 1.0).all() and (line[20:60] < lo[20:60]).all()
    assert (d[75:] == -1.0).all() and (line[75:] > h[75:]).all()
    assert np.all(np.diff(line[20:60]) >= 0)                 # the lower band only rises


def test_rolling_zscore_matches_pandas_and_flat_is_zero() -> None:
    v = load("ftx_btc_perp_1m")["volume"].to_numpy()[:5000]
    s = pd.Series(v)
    expected = ((s - s.rolling(20).mean()) / s.rolling(20).std(ddof=0)).to_numpy()
    np.testing.assert_allclose(ind.rolling_zscore(v, 20)[19:], expected[19:], rtol=1e-6, atol=1e-6)
    flat = np.r_[np.full(30, 0.1234), 5.0]
    z = ind.rolling_zscore(flat, 20)
    assert (z[19:30] == 0.0).all() and z[30] > 4


def test_bb_width_is_band_distance_over_middle() -> None:
    c = load("jesse_btc_1m")["close"].to_numpy()
    u, m, lo = ind.bbands(c, 20, 2.0, 2.0)
    np.testing.assert_array_equal(ind.bb_width(c, 20, 2.0), (u - lo) / m)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: ind.rsi(np.ones(5), period=1), "rsi: period"),
    (lambda: ind.macd(np.ones(5), fast=26, slow=12), "fast"),
    (lambda: ind.sma(np.ones((2, 2)), 3), "1-D"),
    (lambda: ind.atr(np.ones(3), np.ones(4), np.ones(3)), "differ in length"),
    (lambda: ind.SMA(0), "SMA: period"),
])
def test_bad_arguments_raise_naming_the_indicator(call, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()
