"""Candlestick patterns: every definition positive and negative on hand-built
candles, streaming == batch on real candles, exact corrections and checkpoints."""

from __future__ import annotations

import msgspec
import pytest
from hand_candles import assert_stream_equals_batch, comparable, frame, real, stream, trend_rows

from detectors.base import frame_to_arrays
from detectors.candlestick_patterns import CandlestickPatterns
from detectors.patterns import candles
from detectors.patterns.candles import PATTERNS
from detectors.registry import available, create

pytestmark = pytest.mark.unit

DOWN6 = trend_rows(120.0, -1.0, 6)  # closes 119 .. 114
DOWN7 = trend_rows(120.0, -1.0, 7)  # closes 119 .. 113
DOWN8 = trend_rows(120.0, -1.0, 8)  # closes 119 .. 112
UP6 = trend_rows(100.0, 1.0, 6)  # closes 101 .. 106
UP7 = trend_rows(100.0, 1.0, 7)  # closes 101 .. 107
UP8 = trend_rows(100.0, 1.0, 8)  # closes 101 .. 108


def last_patterns(rows, **params) -> list[str]:
    """Patterns reported for the last bar (batch path), [] when no signal."""
    df = frame(rows)
    sigs = CandlestickPatterns(**params).run_batch(df, exchange="test", symbol="TEST/USDT")
    last = int(df["open_time"].iloc[-1])
    hit = [s for s in sigs if s.open_time == last]
    streamed = [s for s in stream(CandlestickPatterns(**params), df) if s.open_time == last]
    assert comparable(hit) == comparable(streamed)
    return hit[0].features["patterns"] if hit else []


V = 100.0
CASES = {
    # name: (positive rows, negative rows)
    "HAMMER": (DOWN8 + [(112, 112.1, 109, 111.8, V)],
               DOWN8 + [(112, 113.5, 109, 111.8, V)]),  # upper shadow too long
    "HANGING_MAN": (UP8 + [(108, 108.1, 105, 107.8, V)],
                    DOWN8 + [(112, 112.1, 109, 111.8, V)]),  # same shape in a downtrend
    "INVERTED_HAMMER": (DOWN8 + [(112, 115, 111.9, 112.2, V)],
                        DOWN8 + [(112, 115, 111.2, 112.2, V)]),  # lower shadow too long
    "SHOOTING_STAR": (UP8 + [(108, 111, 107.7, 107.8, V)],
                      DOWN8 + [(112, 115, 111.9, 112.2, V)]),  # needs an uptrend
    "DOJI": (DOWN8 + [(112, 113, 111, 112.05, V)],
             DOWN8 + [(112, 113, 111, 112.5, V)]),  # body 25% of range
    "BULLISH_ENGULFING": (DOWN7 + [(113, 113.2, 111.8, 112, V), (111.9, 113.8, 111.7, 113.5, V)],
                          DOWN7 + [(113, 113.2, 111.8, 112, V), (111.9, 113.0, 111.7, 112.9, V)]),
    "BEARISH_ENGULFING": (UP7 + [(107, 108.2, 106.8, 108, V), (108.1, 108.3, 106.2, 106.5, V)],
                          DOWN7 + [(113, 114.2, 112.8, 114, V), (114.1, 114.3, 112.2, 112.5, V)]),
    "BULLISH_HARAMI": (DOWN7 + [(113, 113.1, 110.9, 111, V), (111.5, 112.2, 111.3, 112, V)],
                       DOWN7 + [(113, 113.1, 110.9, 111, V), (111.5, 113.4, 111.3, 113.2, V)]),
    "BEARISH_HARAMI": (UP7 + [(107, 109.1, 106.9, 109, V), (108.5, 108.7, 107.8, 108, V)],
                       UP7 + [(107, 109.1, 106.9, 109, V), (108.5, 108.7, 106.5, 106.8, V)]),
    "PIERCING_LINE": (DOWN7 + [(113, 113.1, 110.9, 111, V), (110.9, 112.6, 110.8, 112.5, V)],
                      DOWN7 + [(113, 113.1, 110.9, 111, V), (110.9, 111.9, 110.8, 111.8, V)]),
    "DARK_CLOUD_COVER": (UP7 + [(107, 109.1, 106.9, 109, V), (109.1, 109.2, 107.4, 107.5, V)],
                         UP7 + [(107, 109.1, 106.9, 109, V), (109.1, 109.2, 108.1, 108.2, V)]),
    "MORNING_STAR": (DOWN6 + [(114, 114.1, 111.9, 112, V), (111.9, 112.3, 111.5, 111.8, V),
                              (111.9, 113.8, 111.8, 113.6, V)],
                     DOWN6 + [(114, 114.1, 111.9, 112, V), (111.9, 112.3, 111.5, 111.8, V),
                              (111.9, 112.9, 111.8, 112.8, V)]),  # closes below b1's midpoint
    "EVENING_STAR": (UP6 + [(106, 108.1, 105.9, 108, V), (108.1, 108.5, 107.9, 108.2, V),
                            (108.1, 108.2, 106.2, 106.4, V)],
                     UP6 + [(106, 108.1, 105.9, 108, V), (108.1, 109.5, 107.9, 109.2, V),
                            (108.1, 108.2, 106.2, 106.4, V)]),  # middle body not small
    "THREE_WHITE_SOLDIERS": (trend_rows(106.0, -1.0, 6) + [(100, 101.1, 99.9, 101, V),
                             (100.5, 102.1, 100.4, 102, V), (101.5, 103.1, 101.4, 103, V)],
                             trend_rows(106.0, -1.0, 6) + [(100, 101.1, 99.9, 101, V),
                             (100.5, 102.1, 100.4, 102, V), (102.5, 104.1, 102.4, 104, V)]),
    "THREE_BLACK_CROWS": (trend_rows(94.0, 1.0, 6) + [(100, 100.1, 98.9, 99, V),
                          (99.5, 99.6, 97.9, 98, V), (98.5, 98.6, 96.9, 97, V)],
                          trend_rows(94.0, 1.0, 6) + [(100, 100.1, 98.9, 99, V),
                          (99.5, 99.6, 97.9, 98, V), (98.5, 98.6, 98.1, 98.3, V)]),
}


def test_at_least_twelve_patterns_all_covered_by_cases():
    assert len(PATTERNS) >= 12
    assert set(CASES) == set(PATTERNS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pattern_positive(name):
    pos, _ = CASES[name]
    assert name in last_patterns(pos)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pattern_negative(name):
    _, neg = CASES[name]
    assert name not in last_patterns(neg)


def test_signal_fields_priority_and_score():
    rows = CASES["MORNING_STAR"][0]
    sig = [s for s in CandlestickPatterns().run_batch(frame(rows))][-1]
    assert sig.signal_type == "MORNING_STAR" and sig.direction == "bullish"
    # trend before b1: 114 vs 119 -> -4.2% >= 3% -> full bonus
    assert sig.score == 100.0
    assert sig.features["trend_pct"] == pytest.approx(114 / 119 - 1)
    assert sig.price == 113.6
    assert sig.detector == "candlestick_patterns"


def test_no_trend_context_no_reversal_pattern():
    # a hammer shape after perfectly flat closes: neither up nor down trend
    flat = [(100.0, 100.2, 99.8, 100.0, V)] * 8
    hits = last_patterns(flat + [(100, 100.1, 97, 99.8, V)])
    assert hits == ["DOJI"]  # the shape alone is only a doji: no hammer without a downtrend


def test_pattern_filter_param():
    rows = DOWN8 + [(112, 112.1, 109, 111.8, V)]
    assert last_patterns(rows, patterns=["SHOOTING_STAR"]) == []
    assert last_patterns(rows, patterns=["HAMMER", "DOJI"]) == ["HAMMER", "DOJI"]
    with pytest.raises(ValueError, match="unknown pattern"):
        CandlestickPatterns(patterns=["NOPE"])
    with pytest.raises(ValueError, match="doji_body"):
        CandlestickPatterns(doji_body=0.5, small_body=0.3)


def test_warmup_honoured():
    rows = DOWN8 + [(112, 112.1, 109, 111.8, V)]
    det = CandlestickPatterns()
    assert det.warmup == 9 == len(rows)
    assert stream(CandlestickPatterns(), frame(rows[1:])) == []


@pytest.mark.parametrize("name", ["unittest_1m", "xrp_eth_1m", "xrp_usdt_5m_futures", "ftx_perp_1m"])
def test_stream_equals_batch_on_real_candles(name):
    sigs = assert_stream_equals_batch(CandlestickPatterns, real(name))
    assert len({s.signal_type for s in sigs}) >= 10  # the patterns really occur


def test_correction_of_last_bar_is_exact():
    df = real("xrp_usdt_5m_futures").iloc[:400].reset_index(drop=True)
    wrong = df.copy()
    wrong.loc[199, ["high", "close"]] = [wrong.loc[199, "high"] * 1.05, wrong.loc[199, "high"] * 1.04]
    det = CandlestickPatterns()
    fresh = CandlestickPatterns()
    out_fixed = stream(fresh, df)
    out = stream(det, wrong.iloc[:200]) + []
    out = [s for s in out if s.open_time != int(df.open_time[199])]
    out += stream(det, df.iloc[199:])  # corrected bar 199, then the rest
    assert comparable(out) == comparable(out_fixed)


def test_checkpoint_roundtrip_continues_identically():
    df = real("xrp_usdt_5m_futures").iloc[:600].reset_index(drop=True)
    a = CandlestickPatterns()
    stream(a, df.iloc[:300])
    b = CandlestickPatterns()
    b.set_state(a.get_state())
    assert comparable(stream(a, df.iloc[300:])) == comparable(stream(b, df.iloc[300:]))


def test_registered():
    assert "candlestick_patterns" in available()
    assert isinstance(create("candlestick_patterns"), CandlestickPatterns)


@pytest.mark.parametrize("params", [{}, {"trend_lookback": 2, "patterns": ["HAMMER", "DOJI", "BULLISH_HARAMI", "MORNING_STAR"]}])
def test_step_as_plain_python_gives_the_same_hits(params):
    """Without numba (SCANFLOW_NO_JIT=1) the step's source runs as Python on the
    same state vector: it must find the same signals with the same values."""
    a = frame_to_arrays(real("unittest_1m").iloc[:2500])  # gaps and flat bars
    prm = CandlestickPatterns(**params)._prm
    at, vals = candles.batch(prm, a.open, a.high, a.low, a.close, a.volume)
    step = getattr(candles.candle_step, "py_func", candles.candle_step)
    st = candles.initial_state(prm)
    out = candles.state_size(prm)
    py_at, py_vals = [], []
    for i, bar in enumerate(zip(a.open.tolist(), a.high.tolist(), a.low.tolist(), a.close.tolist(), a.volume.tolist(), strict=True)):
        if step(st, prm, *bar):
            py_at.append(i)
            py_vals.append(st[out:].tolist())
    assert len(at) > 20
    assert py_at == at.tolist() and py_vals == vals.tolist()


def test_checkpoint_of_another_layout_or_configuration_is_refused():
    det = CandlestickPatterns()
    stream(det, real("xrp_eth_1m").iloc[:300])
    blob = msgspec.msgpack.decode(det.get_state())
    blob["state"][0] = "candlestick_patterns/1"
    with pytest.raises(ValueError, match="candlestick_patterns/2"):
        CandlestickPatterns().set_state(msgspec.msgpack.encode(blob))
    with pytest.raises(ValueError, match="configuration"):  # a state sized for another ring length
        CandlestickPatterns(trend_lookback=7).set_state(det.get_state())
