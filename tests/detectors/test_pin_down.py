"""pin_down: top candle at a significant high (within a fraction of the average
bar range), broken within 3 bars, not outside."""

from __future__ import annotations

import pytest
from scanner_support import REAL_SERIES, CandleBuilder, assert_stream_equals_batch, stream

from detectors import registry
from detectors.base import frame_to_arrays

pytestmark = pytest.mark.unit


def approach(n: int = 22) -> tuple[CandleBuilder, float]:
    """A steady climb to a high (each bar +0.5), ending at the high."""
    b = CandleBuilder()
    p = 100.0
    for _ in range(n):
        b.add(p, p + 0.7, p - 0.2, p + 0.5, 100)
        p += 0.5
    return b, p


def with_top(top=None) -> tuple[CandleBuilder, float, int]:
    b, p = approach()
    o, h, lo, c = top or (p + 0.3, p + 1.0, p - 0.1, p)  # bearish, at the high, inside-ish
    b.add(o, h, lo, c, 120)
    return b, lo, b.last_open_time


def test_break_within_three_bars_signals_on_the_breaking_bar() -> None:
    b, low, top_time = with_top()
    b.add(low + 0.1, low + 0.6, low + 0.05, low + 0.3, 100)  # holds (a green bar)
    b.add(low + 0.3, low + 0.5, low - 0.3, low - 0.2, 100)  # breaks the low, 2 bars later
    sigs = stream("pin_down", b)
    assert len(sigs) == 1
    s = sigs[0]
    f = s.features
    assert (s.signal_type, s.direction, s.open_time) == ("PIN_DOWN", "bearish", b.last_open_time)
    assert f["top_open_time"] == top_time and f["bars_to_break"] == 2 and f["top_low"] == low
    assert 0 < s.score <= 100


def test_break_after_three_bars_is_too_late() -> None:
    b, low, _ = with_top()
    for _ in range(3):
        b.add(low + 0.1, low + 0.6, low + 0.05, low + 0.3, 100)  # green: not a top itself
    b.add(low + 0.3, low + 0.5, low - 0.3, low - 0.2, 100)
    assert stream("pin_down", b) == []


def test_outside_bar_is_not_a_top() -> None:
    b, p = approach()
    prev_low = b.rows[-1][3]
    b.add(p + 0.3, p + 1.0, prev_low - 0.1, p, 120)  # higher high AND lower low
    b.add(p - 0.2, p, prev_low - 0.5, prev_low - 0.4, 100)
    assert stream("pin_down", b) == []


def test_bullish_candle_or_far_from_the_high_is_not_a_top() -> None:
    b, p = approach()
    b.add(p, p + 1.0, p - 0.1, p + 0.3, 120)  # green candle
    b.add(p, p + 0.1, p - 0.5, p - 0.4, 100)
    assert stream("pin_down", b) == []
    b, p = approach()
    b.add(p - 2.0, p - 1.8, p - 3.0, p - 2.5, 120)  # red but 2% below the high
    b.add(p - 2.6, p - 2.5, p - 3.5, p - 3.4, 100)
    assert [s.features["top_open_time"] for s in stream("pin_down", b)] == []


def test_near_the_high_is_a_fraction_of_the_average_bar_range() -> None:
    """The approach bars have range 0.9 and the highest high before the top is
    p + 0.2: a top within 0.25 x 0.9 = 0.225 of it qualifies, one further below
    does not, whatever the price level; 1.0's 0.5% tolerance took both."""
    def top_below_the_high(by: float, **params) -> list:
        b, p = approach()
        ref = p + 0.2
        h = ref - by
        b.add(h - 0.1, h, h - 0.4, h - 0.35, 120)  # red, inside the previous bar's low (p - 0.7)
        b.add(h - 0.4, h - 0.35, h - 0.8, h - 0.7, 100)  # breaks its low
        return stream("pin_down", b, **params)

    assert len(top_below_the_high(0.15)) == 1  # 0.17 average ranges below
    assert len(top_below_the_high(0.0)) == 1  # at the high
    assert top_below_the_high(0.3) == []  # 0.33 average ranges below
    assert len(top_below_the_high(0.3, near_range=0.5)) == 1
    assert top_below_the_high(0.15, near_range=0.0) == []  # 0: only the highest high itself
    # 1.0's percent tolerance is still there: 0.3 is 0.27% of ~111
    assert len(top_below_the_high(0.3, near_range=0.0, near_pct=0.5)) == 1
    assert top_below_the_high(0.3, near_range=0.0, near_pct=0.2) == []


def test_break_on_close_needs_a_close_below_the_low() -> None:
    b, low, _ = with_top()
    b.add(low + 0.3, low + 0.5, low - 0.3, low + 0.1, 100)  # wick below, close above
    assert len(stream("pin_down", b)) == 1
    assert stream("pin_down", b, break_on="close") == []


def test_evaluate_on_last_closed_and_params() -> None:
    b, low, _ = with_top()
    b.add(low, low + 0.2, low - 0.3, low - 0.2, 100)
    t = b.last_open_time
    assert stream("pin_down", b, evaluate_on="last_closed") == []
    b.add(low - 0.2, low, low - 0.4, low - 0.3, 100)
    assert [s.open_time for s in stream("pin_down", b, evaluate_on="last_closed")] == [t]
    with pytest.raises(ValueError, match="pin_down"):
        registry.create("pin_down", break_on="high")


@pytest.mark.parametrize("bad", [{"near_range": -0.1}, {"near_range": float("inf")}, {"near_range": float("nan")},
                                 {"near_pct": 100.0}, {"near_pct": -1.0}, {"high_lookback": 0},
                                 {"confirm_bars": 0}])
def test_bad_parameters_are_refused_with_the_reason(bad: dict) -> None:
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"pin_down: .*{name.split('_')[0]}"):
        registry.create("pin_down", **bad)


@pytest.mark.parametrize("evaluate_on", ["current", "last_closed"])
@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str, evaluate_on: str) -> None:
    sigs = assert_stream_equals_batch("pin_down", REAL_SERIES[series](), evaluate_on=evaluate_on)
    assert sigs and all(1 <= s.features["bars_to_break"] <= 3 for s in sigs)


def reference_confirmations(frame, high_lookback: int = 20, near_range: float = 0.25, near_pct: float = 0.0,
                            confirm_bars: int = 3, break_on: str = "low") -> dict[int, int]:
    """The module docstring's definition, written out plainly over the whole frame:
    breaking bar -> top candle (the most recent top when several break together)."""
    a = frame_to_arrays(frame)
    o, h, lo, c = a.open.tolist(), a.high.tolist(), a.low.tolist(), a.close.tolist()
    probe = lo if break_on == "low" else c
    confirmed: dict[int, int] = {}
    for j in range(high_lookback, len(o)):
        before = range(j - high_lookback, j)
        ref = max(h[i] for i in before)
        total = 0.0  # left to right (Python 3.12's sum() is compensated)
        for i in before:
            total += h[i] - lo[i]
        avg_range = total / high_lookback
        near = h[j] >= ref - near_range * avg_range or h[j] >= (1.0 - near_pct / 100.0) * max(ref, h[j])
        outside = h[j] > h[j - 1] and lo[j] < lo[j - 1]
        if not (c[j] < o[j] and near and not outside):
            continue
        for k in range(j + 1, min(len(o), j + confirm_bars + 1)):
            if probe[k] < lo[j]:
                confirmed[k] = j  # j ascending: the most recent top wins
                break
    return confirmed


@pytest.mark.parametrize("params", [{}, {"high_lookback": 10, "near_range": 0.5, "confirm_bars": 2,
                                         "break_on": "close"},
                                    {"near_range": 0.0, "near_pct": 0.5},  # version 1.0
                                    {"near_range": 0.1, "near_pct": 0.1}])
def test_signals_are_exactly_the_documented_definition(params: dict) -> None:
    frame = REAL_SERIES["ftx_btc_perp_1m"]()
    a = frame_to_arrays(frame)
    want = reference_confirmations(frame, **params)
    sigs = assert_stream_equals_batch("pin_down", frame, **params)
    index = {t: i for i, t in enumerate(a.open_time.tolist())}
    got = {index[s.open_time]: index[s.features["top_open_time"]] for s in sigs}
    assert want and len(got) == len(sigs) and got == want


def test_default_rate_is_a_few_percent_of_real_bars() -> None:
    """The point of the volatility-relative tolerance: on real 1m BTC bars a few
    percent of bars signal (1.0's 0.5% made it 28%)."""
    frame = REAL_SERIES["ftx_btc_perp_1m"]()
    rate = len(registry.create("pin_down").run_batch(frame)) / len(frame)
    old = len(registry.create("pin_down", near_range=0.0, near_pct=0.5).run_batch(frame)) / len(frame)
    assert 0.01 < rate < 0.06 and old > 4 * rate
