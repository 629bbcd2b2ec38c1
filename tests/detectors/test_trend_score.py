"""Trend score and Heikin Ashi trend: hand-built up/down/flat series, HA values,
streaming == batch on real candles, exact corrections."""

from __future__ import annotations

import msgspec
import pytest
from hand_candles import (
    assert_column_builder_matches,
    assert_stream_equals_batch,
    comparable,
    frame,
    load_ftx_perp,
    real,
    stream,
    trend_rows,
)

from detectors.base import frame_to_arrays
from detectors.features.rounds import ROUND
from detectors.patterns import trend_core
from detectors.registry import available, create
from detectors.trend_score import TrendScore

pytestmark = pytest.mark.unit


def test_uptrend_then_downtrend_then_flat():
    rows = trend_rows(100.0, 0.5, 80) + trend_rows(140.0, -0.5, 60)
    rows += [(110.0, 110.3, 109.7, 110.0 + (0.2 if i % 2 else -0.2), 100.0) for i in range(60)]
    sigs = assert_stream_equals_batch(TrendScore, frame(rows))
    kinds = [s.signal_type for s in sigs]
    assert kinds[0] == "TREND_UP"
    assert "TREND_DOWN" in kinds and kinds.index("TREND_DOWN") > 0
    assert kinds[-1] == "TREND_NEUTRAL"
    up = sigs[0]
    assert up.features["trend_score"] >= 60 and up.features["ha_direction"] == 1
    assert up.features["ha_streak"] >= 5 and up.score == up.features["trend_score"]
    down = sigs[kinds.index("TREND_DOWN")]
    assert down.features["trend_score"] <= -60 and down.direction == "bearish"
    assert all(-100 <= s.features["trend_score"] <= 100 for s in sigs)


def test_heikin_ashi_values():
    rows = trend_rows(100.0, 0.5, 60)
    det = TrendScore()
    sig = stream(det, frame(rows))[0]
    i = (sig.open_time - int(frame(rows).open_time[0])) // 60_000
    ha_o, ha_c = (rows[0][0] + rows[0][3]) / 2, sum(rows[0][:4]) / 4
    for o, h, lo, c, _v in rows[1:i + 1]:
        ha_o, ha_c = (ha_o + ha_c) / 2, (o + h + lo + c) / 4
    assert sig.features["ha_open"] == pytest.approx(ha_o)
    assert sig.features["ha_close"] == pytest.approx(ha_c)


def test_flat_market_never_trends():
    rows = [(100.0, 100.3, 99.7, 100.0 + (0.2 if i % 2 else -0.2), 100.0) for i in range(200)]
    assert TrendScore().run_batch(frame(rows)) == []


def test_warmup_and_params():
    assert TrendScore().warmup == 50
    assert TrendScore().run_batch(frame(trend_rows(100.0, 0.5, 49))) == []
    with pytest.raises(ValueError, match="hysteresis"):
        TrendScore(threshold=30, hysteresis=40)
    assert "trend_score" in available() and isinstance(create("trend_score"), TrendScore)


@pytest.mark.parametrize("name", ["ftx_perp_1m", "unittest_1m", "xrp_eth_1m", "ada_btc_5m"])
def test_stream_equals_batch_on_real_candles(name):
    sigs = assert_stream_equals_batch(TrendScore, real(name))
    assert {"TREND_UP", "TREND_DOWN", "TREND_NEUTRAL"} <= {s.signal_type for s in sigs}


def test_batch_builds_exactly_the_signals_streaming_builds_on_45k_bars():
    """The batch path builds its signals column-wise; every field, type and feature
    order must equal the per-hit builder that streaming uses."""
    sigs = assert_column_builder_matches(TrendScore(), load_ftx_perp())
    assert len(sigs) > 2 * ROUND  # the batch run builds them in several rounds
    assert {s.signal_type for s in sigs} == {"TREND_UP", "TREND_DOWN", "TREND_NEUTRAL"}
    assert {s.features["ha_strong"] for s in sigs} == {True, False}


def test_correction_and_checkpoint_exact():
    df = real("ftx_perp_1m").iloc[:2000].reset_index(drop=True)
    full = comparable(stream(TrendScore(), df))
    cut = 901
    wrong = df.copy()
    wrong.loc[cut, "close"] = wrong.loc[cut, "low"]
    det = TrendScore()
    out = [s for s in stream(det, wrong.iloc[:cut + 1]) if s.open_time != int(df.open_time[cut])]
    other = TrendScore()
    other.set_state(det.get_state())
    assert comparable(out + stream(det, df.iloc[cut:])) == full
    assert comparable(out + stream(other, df.iloc[cut:])) == full


@pytest.mark.parametrize("params", [{}, {"ema_fast": 5, "ema_slow": 9, "roc_period": 3, "ha_full": 2, "threshold": 40.0, "hysteresis": 10.0}])
def test_step_as_plain_python_gives_the_same_hits(params):
    """Without numba (SCANFLOW_NO_JIT=1) the step's source runs as Python on the
    same state vector: it must find the same signals with the same values."""
    a = frame_to_arrays(real("unittest_1m").iloc[:2500])  # gaps and flat bars
    prm = TrendScore(**params)._prm
    at, vals = trend_core.batch(prm, a.open, a.high, a.low, a.close, a.volume)
    step = getattr(trend_core.trend_step, "py_func", trend_core.trend_step)
    st = trend_core.initial_state(prm)
    out = trend_core.state_size(prm)
    py_at, py_vals = [], []
    for i, bar in enumerate(zip(a.open.tolist(), a.high.tolist(), a.low.tolist(), a.close.tolist(), a.volume.tolist(),
                                strict=True)):
        if step(st, prm, *bar):
            py_at.append(i)
            py_vals.append(st[out:].tolist())
    assert len(at) > 20
    assert py_at == at.tolist() and py_vals == vals.tolist()


def test_checkpoint_of_another_layout_or_configuration_is_refused():
    det = TrendScore()
    stream(det, real("xrp_eth_1m").iloc[:300])
    blob = msgspec.msgpack.decode(det.get_state())
    blob["state"][0] = "trend_score/1"
    with pytest.raises(ValueError, match="trend_score/2"):
        TrendScore().set_state(msgspec.msgpack.encode(blob))
    with pytest.raises(ValueError, match="configuration"):  # a state sized for another ring length
        TrendScore(roc_period=4).set_state(det.get_state())
