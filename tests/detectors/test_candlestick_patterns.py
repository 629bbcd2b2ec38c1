"""Candlestick patterns: every definition positive and negative on hand-built
candles, the volatility-relative prior trend (a pattern without one does not
fire, with one it does), the single-bar definitions against a plain reference on
real candles, streaming == batch on real candles, exact corrections and checkpoints."""

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
from detectors.candlestick_patterns import CandlestickPatterns
from detectors.features.rounds import ROUND
from detectors.patterns import candles
from detectors.patterns.candles import PATTERNS
from detectors.registry import available, create

pytestmark = pytest.mark.unit



def quiet(price: float, n: int = 14) -> list[tuple[float, float, float, float, float]]:
    """``n`` small bars (range 0.4) around ``price``: the calm before a trend, so the
    average range of the 20 bars before a pattern is about 0.8 and a 5-bar move of
    5 (trend bars of range 1.4) is ~6 average ranges, a clear trend."""
    return [(price + 0.05, price + 0.2, price - 0.2, price - 0.05, 100.0) if k % 2 else
            (price - 0.05, price + 0.2, price - 0.2, price + 0.05, 100.0) for k in range(n)]


DOWN6 = quiet(120.0) + trend_rows(120.0, -1.0, 6)  # closes 119 .. 114
DOWN7 = quiet(120.0) + trend_rows(120.0, -1.0, 7)  # closes 119 .. 113
DOWN8 = quiet(120.0) + trend_rows(120.0, -1.0, 8)  # closes 119 .. 112
UP6 = quiet(100.0) + trend_rows(100.0, 1.0, 6)  # closes 101 .. 106
UP7 = quiet(100.0) + trend_rows(100.0, 1.0, 7)  # closes 101 .. 107
UP8 = quiet(100.0) + trend_rows(100.0, 1.0, 8)  # closes 101 .. 108


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
    "THREE_WHITE_SOLDIERS": (quiet(106.0) + trend_rows(106.0, -1.0, 6) + [(100, 101.1, 99.9, 101, V),
                             (100.5, 102.1, 100.4, 102, V), (101.5, 103.1, 101.4, 103, V)],
                             quiet(106.0) + trend_rows(106.0, -1.0, 6) + [(100, 101.1, 99.9, 101, V),
                             (100.5, 102.1, 100.4, 102, V), (102.5, 104.1, 102.4, 104, V)]),
    "THREE_BLACK_CROWS": (quiet(94.0) + trend_rows(94.0, 1.0, 6) + [(100, 100.1, 98.9, 99, V),
                          (99.5, 99.6, 97.9, 98, V), (98.5, 98.6, 96.9, 97, V)],
                          quiet(94.0) + trend_rows(94.0, 1.0, 6) + [(100, 100.1, 98.9, 99, V),
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
    # trend before b1: 114 vs 119, average range of the 20 bars ending there
    # (6 trend bars of 1.4, 14 quiet ones of 0.4) 0.7: -7.1 ranges >= trend_full 4 -> full bonus
    assert sig.score == 100.0
    assert sig.features["trend_pct"] == pytest.approx(114 / 119 - 1)
    assert sig.features["trend_ranges"] == pytest.approx(-5 / 0.7)
    assert sig.price == 113.6
    assert sig.detector == "candlestick_patterns"


def test_no_trend_context_no_pattern():
    # a hammer shape (also a doji) after perfectly flat closes: neither up nor down trend
    flat = [(100.0, 100.2, 99.8, 100.0, V)] * 24
    assert last_patterns(flat + [(100, 100.1, 97, 99.8, V)]) == []
    # version 1.0 (trend_min=0): the doji needed no context, the hammer a falling close
    assert last_patterns(flat + [(100, 100.1, 97, 99.8, V)], trend_min=0.0) == ["DOJI"]


def prior(move: float, n: int = 23) -> list[tuple[float, float, float, float, float]]:
    """``n`` bars of range 1.0 (so every average range is 1.0) ending in a 5-bar
    move of ``move`` (negative: a decline) from 100: the prior trend is ``move``
    average ranges."""
    rows = [(100.0, 100.5, 99.5, 100.0, V)] * (n - 5)
    d, w = move / 5, (1.0 - abs(move) / 5) / 2
    p = 100.0
    for _ in range(5):
        o, p = p, p + d
        rows.append((o, max(o, p) + w, min(o, p) - w, p, V))
    return rows


def hammer(q: float) -> tuple[float, float, float, float, float]:
    return (q, q + 0.12, q - 1.0, q + 0.1, V)  # body 0.1, lower shadow 1.0, upper 0.02


def engulfing(q: float) -> list[tuple[float, float, float, float, float]]:
    return [(q, q + 0.1, q - 0.6, q - 0.5, V), (q - 0.55, q + 0.2, q - 0.6, q + 0.1, V)]


def doji(q: float) -> tuple[float, float, float, float, float]:
    return (q, q + 0.5, q - 0.5, q + 0.02, V)


def test_a_weak_drift_is_no_trend_a_real_move_is():
    """trend_min 2.0: the close must have moved two average bar ranges over the 5
    bars before the pattern; 1.0 took any drift of the right sign."""
    assert last_patterns(prior(-1.5) + [hammer(98.5)]) == []
    assert last_patterns(prior(-2.5) + [hammer(97.5)]) == ["HAMMER", "DOJI"]
    assert last_patterns(prior(+2.5) + [hammer(102.5)]) == ["HANGING_MAN", "DOJI"]
    assert last_patterns(prior(-1.5) + [hammer(98.5)], trend_min=0.0) == ["HAMMER", "DOJI"]  # 1.0
    assert last_patterns(prior(-1.5) + [hammer(98.5)], trend_min=1.0) == ["HAMMER", "DOJI"]
    assert last_patterns(prior(-1.5) + engulfing(98.5)) == []
    assert last_patterns(prior(-2.5) + engulfing(97.5)) == ["BULLISH_ENGULFING"]
    assert last_patterns(prior(+2.5) + engulfing(102.5)) == []  # wrong direction


def test_a_doji_needs_a_move_either_way():
    assert last_patterns(prior(0.0) + [doji(100.0)]) == []
    assert last_patterns(prior(-1.5) + [doji(98.5)]) == []
    assert last_patterns(prior(-2.5) + [doji(97.5)]) == ["DOJI"]
    assert last_patterns(prior(+2.5) + [doji(102.5)]) == ["DOJI"]
    assert last_patterns(prior(0.0) + [doji(100.0)], trend_min=0.0) == ["DOJI"]  # 1.0: no context


def test_score_grows_from_base_at_trend_min_to_100_at_trend_full():
    def hammer_score(move: float) -> float:
        sig = CandlestickPatterns().run_batch(frame(prior(move) + [hammer(100.0 + move - 0.05)]))[-1]
        assert sig.signal_type == ("HAMMER" if move < 0 else "HANGING_MAN")
        assert sig.features["trend_ranges"] == pytest.approx(move)
        return sig.score

    assert hammer_score(-2.0001) == pytest.approx(55.0, abs=0.01)  # base score of the hammer
    assert hammer_score(-3.0) == pytest.approx(55.0 + 45.0 * 0.5)
    assert hammer_score(-4.5) == 100.0
    assert hammer_score(3.0) == pytest.approx(45.0 + 55.0 * 0.5)  # hanging man: base 45


def reference_trend(rows, first: int, lookback: int = 5, range_lookback: int = 20) -> float:
    """The docstring's prior trend of a pattern whose first bar is ``rows[first]``,
    in average bar ranges."""
    e = first - 1
    avg = sum(h - lo for _, h, lo, _, _ in rows[e - range_lookback + 1:e + 1]) / range_lookback
    return (rows[e][3] - rows[e - lookback][3]) / avg


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_pattern_needs_its_prior_trend(name):
    """Each positive case fires with trend_min just below its prior trend and not
    just above it (no reversal pattern, and no doji, without a real prior trend)."""
    rows = CASES[name][0]
    trend = abs(reference_trend(rows, len(rows) - PATTERNS[name][1]))
    assert trend > 2.0
    assert name in last_patterns(rows, trend_min=trend - 0.01, trend_full=trend + 1)
    assert name not in last_patterns(rows, trend_min=trend + 0.01, trend_full=trend + 1)


def reference_single_bar(frame_, lookback: int = 5, range_lookback: int = 20, trend_min: float = 2.0
                         ) -> dict[str, set[int]]:
    """The docstring's single-bar patterns written out plainly: name -> bar indices."""
    a = frame_to_arrays(frame_)
    o, h, lo, c = a.open.tolist(), a.high.tolist(), a.low.tolist(), a.close.tolist()
    out: dict[str, set[int]] = {n: set() for n in ("HAMMER", "HANGING_MAN", "INVERTED_HAMMER", "SHOOTING_STAR",
                                                   "DOJI")}
    for i in range(max(lookback + 3, range_lookback + 2), len(c)):
        body, rng = abs(c[i] - o[i]), h[i] - lo[i]
        if not rng > 0:
            continue
        e = i - 1
        total = 0.0  # left to right (Python 3.12's sum() is compensated)
        for j in range(e - range_lookback + 1, e + 1):
            total += h[j] - lo[j]
        trend = (c[e] - c[e - lookback]) / (total / range_lookback) if total > 0 else 0.0
        down = c[e] < c[e - lookback] and trend <= -trend_min
        up = c[e] > c[e - lookback] and trend >= trend_min
        if body <= 0.1 * rng and abs(trend) >= trend_min:
            out["DOJI"].add(i)
        upper, lower = h[i] - (o[i] + c[i] + body) * 0.5, (o[i] + c[i] - body) * 0.5 - lo[i]
        if body <= 0.3 * rng:
            if lower >= 2.0 * body and upper <= 0.1 * rng and (down or up):
                out["HAMMER" if down else "HANGING_MAN"].add(i)
            if upper >= 2.0 * body and lower <= 0.1 * rng and (down or up):
                out["INVERTED_HAMMER" if down else "SHOOTING_STAR"].add(i)
    return out


@pytest.mark.parametrize("params", [{}, {"trend_lookback": 3, "range_lookback": 10, "trend_min": 1.0}])
def test_single_bar_patterns_are_exactly_the_documented_definition_on_real_candles(params):
    df = real("ftx_perp_1m")
    index = {t: i for i, t in enumerate(frame_to_arrays(df).open_time.tolist())}
    sigs = assert_stream_equals_batch(lambda: CandlestickPatterns(**params), df)
    want = reference_single_bar(df, **{k.replace("trend_lookback", "lookback"): v for k, v in params.items()})
    for name, bars in want.items():
        got = {index[s.open_time] for s in sigs if name in s.features["patterns"]}
        assert bars and got == bars, name


def test_default_rate_is_a_few_percent_of_real_bars():
    """The point of the prior-trend condition: a few percent of real 1m bars give
    a signal (1.0: about a third)."""
    df = real("ftx_perp_1m")
    rate = len(CandlestickPatterns().run_batch(df)) / len(df)
    old = len(CandlestickPatterns(trend_min=0.0).run_batch(df)) / len(df)
    assert 0.02 < rate < 0.10 and old > 3 * rate


def test_pattern_filter_param():
    rows = DOWN8 + [(112, 112.1, 109, 111.8, V)]
    assert last_patterns(rows, patterns=["SHOOTING_STAR"]) == []
    assert last_patterns(rows, patterns=["HAMMER", "DOJI"]) == ["HAMMER", "DOJI"]
    with pytest.raises(ValueError, match="unknown pattern"):
        CandlestickPatterns(patterns=["NOPE"])
    with pytest.raises(ValueError, match="doji_body"):
        CandlestickPatterns(doji_body=0.5, small_body=0.3)


@pytest.mark.parametrize(("bad", "match"), [
    ({"trend_min": -1.0}, "trend_min"), ({"trend_min": float("nan")}, "trend_min"),
    ({"trend_min": float("inf")}, "trend_min"), ({"trend_full": 2.0}, "trend_full .* > trend_min=2.0"),
    ({"trend_min": 5.0}, "trend_full"), ({"trend_full": float("inf")}, "trend_full"),
    ({"range_lookback": 0}, "range_lookback"), ({"trend_lookback": 0}, "trend_lookback"),
])
def test_bad_trend_parameters_are_refused_with_the_reason(bad, match):
    with pytest.raises(ValueError, match=f"candlestick_patterns: .*{match}"):
        CandlestickPatterns(**bad)


def test_warmup_honoured():
    rows = DOWN8 + [(112, 112.1, 109, 111.8, V)]
    det = CandlestickPatterns()
    assert det.warmup == 23 == len(rows)
    assert CandlestickPatterns(range_lookback=5).warmup == 9  # 1.0's warm-up
    assert stream(CandlestickPatterns(), frame(rows[1:])) == []


@pytest.mark.parametrize("name", ["unittest_1m", "xrp_eth_1m", "xrp_usdt_5m_futures", "ftx_perp_1m"])
def test_stream_equals_batch_on_real_candles(name):
    sigs = assert_stream_equals_batch(CandlestickPatterns, real(name))
    assert len({s.signal_type for s in sigs}) >= 10  # the patterns really occur


@pytest.mark.parametrize("params", [{}, {"trend_min": 0.0, "trend_full": 1.0}])
def test_batch_builds_exactly_the_signals_streaming_builds_on_45k_bars(params):
    """The batch path builds its signals column-wise; every field, type, float and
    feature order must equal the per-hit builder that streaming uses, for every
    pattern combination that occurs (scores clamped at both ends, zero volumes)."""
    sigs = assert_column_builder_matches(CandlestickPatterns(**params), load_ftx_perp())
    assert len(sigs) > ROUND  # the batch run builds them in rounds
    assert len({s.signal_type for s in sigs}) == len(PATTERNS)
    assert len({tuple(s.features["patterns"]) for s in sigs}) > len(PATTERNS)  # combinations too
    scores = [s.score for s in sigs]
    assert 100.0 in scores and min(scores) < 100.0
    assert sigs[0].features["patterns"] is not sigs[1].features["patterns"]  # a fresh list per signal


@pytest.mark.parametrize("name", sorted(CASES))
def test_batch_builder_on_flat_bars_and_zero_volumes(name):
    """The ratios' zero branches, which real data hardly reaches: a previous bar
    without volume (volume_ratio 0) and a flat pattern bar (body_ratio 0)."""
    rows = [r[:4] + (0.0,) if k == len(CASES[name][0]) - 2 else r for k, r in enumerate(CASES[name][0])]
    sig = assert_column_builder_matches(CandlestickPatterns(), frame(rows))[-1]
    assert name in sig.features["patterns"] and sig.features["volume_ratio"] == 0.0
    flat = DOWN7 + [(113, 113.1, 110.9, 111, V), (112.0, 112.0, 112.0, 112.0, V)]  # a harami of a flat bar
    sig = assert_column_builder_matches(CandlestickPatterns(), frame(flat))[-1]
    assert sig.features["patterns"] == ["BULLISH_HARAMI"] and sig.features["body_ratio"] == 0.0


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


@pytest.mark.parametrize("params", [{}, {"trend_lookback": 2, "patterns": ["HAMMER", "DOJI", "BULLISH_HARAMI", "MORNING_STAR"]},
                                    {"trend_lookback": 7, "range_lookback": 3, "trend_min": 0.5}])
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
    blob["state"][0] = "candlestick_patterns/3"
    with pytest.raises(ValueError, match="candlestick_patterns/4"):
        CandlestickPatterns().set_state(msgspec.msgpack.encode(blob))
    with pytest.raises(ValueError, match="configuration"):  # a state sized for another ring length
        CandlestickPatterns(trend_lookback=7).set_state(det.get_state())
    with pytest.raises(ValueError, match="configuration"):
        CandlestickPatterns(range_lookback=30).set_state(det.get_state())
