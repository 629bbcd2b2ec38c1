"""Futures consensus: fused indicators agree with TA-Lib, streaming == batch on
real candles, entries with trade plans, overextension and trap blocks."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest
import talib
from hand_candles import (
    assert_column_builder_matches,
    assert_stream_equals_batch,
    comparable,
    frame,
    load_ftx_perp,
    real,
    stream,
)

from detectors.base import frame_to_arrays
from detectors.futures_consensus import FuturesConsensus
from detectors.patterns import futures_core
from detectors.registry import available, create

pytestmark = pytest.mark.unit

ENTRY = 111  # bar index of the first long entry in build()


def build(mod=None) -> list[tuple[float, float, float, float, float]]:
    """100 bars of noisy decline, then 60 bars of steady rise with 0.6 wicks."""
    rows = []
    price = 120.0
    for i in range(100):
        o = price
        c = price - 0.2 + 0.15 * math.sin(i)
        rows.append((o, max(o, c) + 0.1, min(o, c) - 0.1, c, 100.0))
        price = c
    for _ in range(60):
        o = price
        c = price + 0.3
        rows.append((o, c + 0.6, o - 0.6, c, 150.0))
        price = c
    if mod:
        mod(rows)
    return rows


def signals_at(rows) -> dict[int, object]:
    df = frame(rows)
    t0 = int(df.open_time[0])
    sigs = assert_stream_equals_batch(FuturesConsensus, df)
    return {(s.open_time - t0) // 60_000: s for s in sigs}


TRACED = ("ef", "es", "macd", "sig", "hist", "rsi", "k", "d", "atr", "adx", "pdi", "mdi", "bb_mid", "bbw", "obv",
          "obv_ema")


def test_indicators_match_talib_on_45k_bars():
    a = frame_to_arrays(load_ftx_perp())
    h, lo, c, v = a.high, a.low, a.close, a.volume
    traced = futures_core.trace(FuturesConsensus()._prm, a.open, h, lo, c, v, TRACED)
    got = dict(zip(TRACED, traced.T, strict=True))
    m, s, hist = talib.MACD(c, 12, 26, 9)
    k, d = talib.STOCHRSI(c, 14, 14, 3, 0)
    up, mid, low = talib.BBANDS(c, 20, 2, 2, 0)
    dev = got["bbw"] * got["bb_mid"] / 2.0  # width = 2 * dev / middle
    got["bb_up"], got["bb_lo"] = got["bb_mid"] + dev, got["bb_mid"] - dev
    ref = {"ef": talib.EMA(c, 20), "es": talib.EMA(c, 50), "macd": m, "sig": s, "hist": hist,
           "rsi": talib.RSI(c, 14), "k": k, "d": d, "atr": talib.ATR(h, lo, c, 14),
           "adx": talib.ADX(h, lo, c, 14), "pdi": talib.PLUS_DI(h, lo, c, 14),
           "mdi": talib.MINUS_DI(h, lo, c, 14), "bb_mid": mid, "bb_up": up, "bb_lo": low,
           "obv": talib.OBV(c, v), "obv_ema": talib.EMA(talib.OBV(c, v), 20)}
    for name, r in ref.items():
        x = got[name]
        ok = ~np.isnan(r)
        assert ok.sum() > 44_000, name
        assert not np.isnan(x[ok]).any(), name  # defined wherever TA-Lib's is
        np.testing.assert_allclose(x[ok], r[ok], rtol=1e-9, atol=1e-9 * np.nanmax(np.abs(r)), err_msg=name)


@pytest.mark.parametrize("params", [{}, {"ema_fast": 9, "bb_period": 7, "bbw_lookback": 11, "stoch_k": 5,
                                         "stoch_d": 4, "adx_period": 6}])
def test_step_as_plain_python_gives_the_same_hits(params):
    """Without numba (SCANFLOW_NO_JIT=1) the step's source runs as Python on the
    same state vector: it must find the same signals with the same values."""
    a = frame_to_arrays(real("unittest_1m").iloc[:2500])  # gaps and flat bars
    prm = FuturesConsensus(**params)._prm
    at, vals = futures_core.batch(prm, a.open, a.high, a.low, a.close, a.volume)
    step = getattr(futures_core.futures_step, "py_func", futures_core.futures_step)
    st = futures_core.initial_state(prm)
    out = futures_core.state_size(prm)
    py_at, py_vals = [], []
    for i, bar in enumerate(zip(a.open.tolist(), a.high.tolist(), a.low.tolist(), a.close.tolist(),
                                a.volume.tolist(), strict=True)):
        if step(st, prm, *bar):
            py_at.append(i)
            py_vals.append(st[out:].tolist())
    assert len(at) > 20
    assert py_at == at.tolist() and py_vals == vals.tolist()


@pytest.mark.parametrize("bp", [2, 5, 20])
def test_batch_bollinger_is_the_steps_arithmetic_for_every_window(bp):
    """Batch computes the Bollinger columns four windows at a time; each value must
    be the step's sequential computation, for every series length (the last windows
    that do not fill a group of four included)."""
    c = frame_to_arrays(load_ftx_perp(200)).close
    for n in range(bp - 1, bp + 9):
        mid, bbw = np.full(n, np.nan), np.full(n, np.nan)
        futures_core._bollinger(c[:n], bp, 2.0, mid, bbw)
        want_mid, want_bbw = [math.nan] * (bp - 1), [math.nan] * (bp - 1)
        for i in range(bp - 1, n):
            window = c[i - bp + 1:i + 1].tolist()
            m = 0.0
            for x in window:
                m += x
            m /= bp
            var = 0.0
            for x in window:
                var += (x - m) * (x - m)
            want_mid.append(m)
            want_bbw.append((2.0 * (2.0 * math.sqrt(var / bp))) / m)
        assert mid.tobytes() == np.array(want_mid).tobytes() and bbw.tobytes() == np.array(want_bbw).tobytes()


def test_checkpoint_of_another_layout_or_configuration_is_refused():
    det = FuturesConsensus()
    stream(det, real("ftx_perp_1m").iloc[:200])
    blob = msgspec.msgpack.decode(det.get_state())
    blob["state"][0] = "futures_consensus/1"
    with pytest.raises(ValueError, match="futures_consensus/2"):
        FuturesConsensus().set_state(msgspec.msgpack.encode(blob))
    with pytest.raises(ValueError, match="configuration"):  # a state sized for other ring lengths
        FuturesConsensus(bb_period=30).set_state(det.get_state())


def test_long_entry_with_trade_plan():
    sigs = signals_at(build())
    s = sigs[ENTRY]
    assert s.signal_type == "FUTURES_LONG" and s.direction == "bullish"
    tp = s.trade_plan
    atr = s.features["atr"]
    assert tp.entry == s.price
    assert tp.stop == pytest.approx(tp.entry - 1.5 * atr)
    assert tp.tp1 == pytest.approx(tp.entry + 2.0 * atr)
    assert tp.tp2 == pytest.approx(tp.entry + 3.5 * atr)
    # ema20 still catches up with the 0.3/bar rise: its last move is below 0.3
    slope = s.features["ema_slope"]
    assert 0 < slope < 0.3
    assert tp.eta_bars == math.ceil(2.0 * atr / slope) >= math.ceil(2.0 * atr / 0.3)
    assert s.features["consensus"] >= 0.5 and s.features["regime"] == "trending"
    assert set(s.features["votes"]) == {"ema", "macd", "rsi", "stochrsi", "obv", "supertrend"}
    assert 0 < s.score <= 100
    # one signal per run: nothing more while the rise goes on
    assert max(sigs) == ENTRY


def test_trap_wick_blocks_then_next_bar_enters():
    def long_upper_wick(rows):
        o, h, lo, c, v = rows[ENTRY]
        rows[ENTRY] = (o, c + 2.0, lo, c, v)

    sigs = signals_at(build(long_upper_wick))
    s = sigs[ENTRY]
    assert s.signal_type == "FUTURES_LONG_BLOCKED" and s.trade_plan is None
    assert "trap_wick" in s.features["blocked"]
    after = min(k for k in sigs if k > ENTRY)
    assert sigs[after].signal_type == "FUTURES_LONG"


def test_oversized_candle_is_a_trap():
    def long_lower_wick(rows):
        o, h, lo, c, v = rows[ENTRY]
        rows[ENTRY] = (o, h, o - 4.0, c, v)

    s = signals_at(build(long_lower_wick))[ENTRY]
    assert s.signal_type == "FUTURES_LONG_BLOCKED"
    assert s.features["blocked"] == ["trap_oversized"]


def test_overextension_blocks():
    def spike(rows):
        o, h, lo, c, v = rows[ENTRY]
        rows[ENTRY] = (o, c + 2.7, lo, c + 2.5, v)

    s = signals_at(build(spike))[ENTRY]
    assert s.signal_type == "FUTURES_LONG_BLOCKED"
    assert "overextended" in s.features["blocked"]
    assert s.features["ema_distance_atr"] > 2.0


def test_weights_are_configurable():
    rows = build()
    # only the RSI vote: deep in the rise RSI is high, so the side turns long later or earlier
    only_rsi = dict(w_ema=0, w_macd=0, w_rsi=1, w_stochrsi=0, w_obv=0, w_supertrend=0)
    sigs = FuturesConsensus(**only_rsi).run_batch(frame(rows))
    assert sigs and all(s.features["consensus"] == pytest.approx(s.features["votes"]["rsi"]) for s in sigs)
    with pytest.raises(ValueError, match="weights"):
        FuturesConsensus(w_ema=-1)
    with pytest.raises(ValueError, match="macd_fast"):
        FuturesConsensus(macd_fast=30)
    with pytest.raises(ValueError, match="bad parameters"):
        FuturesConsensus(nope=1)


def test_regime_rule_and_confidence_on_real_candles():
    sigs = FuturesConsensus().run_batch(real("ftx_perp_1m"))
    by = {r: [s for s in sigs if s.features["regime"] == r] for r in ("high_volatility", "trending", "ranging")}
    assert all(by.values()), {r: len(v) for r, v in by.items()}
    for s in by["high_volatility"]:
        assert s.features["bbw_ratio"] >= 1.5 and s.features["confidence"] == 0.6
    for s in by["trending"]:
        assert s.features["bbw_ratio"] < 1.5 and s.features["adx"] >= 25 and s.features["confidence"] == 1.0
    for s in by["ranging"]:
        assert s.features["bbw_ratio"] < 1.5 and s.features["adx"] < 25 and s.features["confidence"] == 0.7
    for s in sigs:
        assert s.score == pytest.approx(100 * abs(s.features["consensus"]) * s.features["confidence"])


def test_warmup_honoured():
    det = FuturesConsensus()
    assert det.warmup == 69
    rows = build()
    sigs = FuturesConsensus().run_batch(frame(rows))
    t0 = int(frame(rows).open_time[0])
    assert min((s.open_time - t0) // 60_000 for s in sigs) >= det.warmup - 1


@pytest.mark.parametrize("name", ["ftx_perp_1m", "xrp_usdt_5m_futures", "unittest_1m", "xrp_eth_1m"])
def test_stream_equals_batch_on_real_candles(name):
    sigs = assert_stream_equals_batch(FuturesConsensus, real(name))
    kinds = {s.signal_type for s in sigs}
    assert {"FUTURES_LONG", "FUTURES_SHORT"} <= kinds


def test_batch_builds_exactly_the_signals_streaming_builds_on_45k_bars():
    """The batch path builds its signals column-wise; every field, type and feature
    order must equal the per-hit builder that streaming uses, across every case:
    longs and shorts, each block reason, plans with and without an ETA."""
    sigs = assert_column_builder_matches(FuturesConsensus(), load_ftx_perp())
    assert {s.signal_type for s in sigs} == {"FUTURES_LONG", "FUTURES_SHORT", "FUTURES_LONG_BLOCKED",
                                             "FUTURES_SHORT_BLOCKED"}
    assert {r for s in sigs for r in s.features["blocked"]} == set(futures_core.BLOCKS)
    etas = [s.trade_plan.eta_bars for s in sigs if s.trade_plan is not None]
    assert None in etas and any(e is not None for e in etas)
    assert {s.features["regime"] for s in sigs} == {"trending", "ranging", "high_volatility"}


def test_correction_of_last_bar_is_exact():
    df = real("ftx_perp_1m").iloc[:3000].reset_index(drop=True)
    for cut in (1500, 1531, 1532):  # around a snapshot boundary too
        wrong = df.copy()
        wrong.loc[cut, "close"] = wrong.loc[cut, "low"]
        det = FuturesConsensus()
        out = [s for s in stream(det, wrong.iloc[:cut + 1]) if s.open_time != int(df.open_time[cut])]
        out += stream(det, df.iloc[cut:])
        assert comparable(out) == comparable(stream(FuturesConsensus(), df))


def test_duplicate_candle_is_idempotent():
    df = real("xrp_usdt_5m_futures")
    det = FuturesConsensus()
    a = stream(det, df.iloc[:500])
    again = stream(det, df.iloc[499:500])
    assert comparable(again) == comparable([s for s in a if s.open_time == int(df.open_time[499])])
    assert comparable(stream(det, df.iloc[500:])) == comparable(
        [s for s in stream(FuturesConsensus(), df) if s.open_time >= int(df.open_time[500])])


def test_checkpoint_roundtrip_continues_identically():
    df = real("ftx_perp_1m").iloc[:2000].reset_index(drop=True)
    a = FuturesConsensus()
    stream(a, df.iloc[:1010])
    b = FuturesConsensus()
    b.set_state(a.get_state())
    assert comparable(stream(a, df.iloc[1010:])) == comparable(stream(b, df.iloc[1010:]))

    # a correction right after restoring is still exact
    c = FuturesConsensus()
    stream(c, df.iloc[:1010])
    d = FuturesConsensus()
    d.set_state(c.get_state())
    wrong_last = df.iloc[1009:1010].copy()
    wrong_last["close"] = wrong_last["low"]
    stream(d, wrong_last)
    stream(c, wrong_last)
    assert comparable(stream(c, df.iloc[1009:])) == comparable(stream(d, df.iloc[1009:]))


def test_registered():
    assert "futures_consensus" in available()
    assert isinstance(create("futures_consensus"), FuturesConsensus)
