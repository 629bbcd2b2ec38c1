"""pin_down: top candle near a significant high, broken within 3 bars, not outside."""

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


@pytest.mark.parametrize("evaluate_on", ["current", "last_closed"])
@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str, evaluate_on: str) -> None:
    sigs = assert_stream_equals_batch("pin_down", REAL_SERIES[series](), evaluate_on=evaluate_on)
    assert sigs and all(1 <= s.features["bars_to_break"] <= 3 for s in sigs)


def reference_confirmations(frame, high_lookback: int = 20, near_pct: float = 0.5, confirm_bars: int = 3,
                            break_on: str = "low") -> dict[int, int]:
    """The module docstring's definition, written out plainly over the whole frame:
    breaking bar -> top candle (the most recent top when several break together)."""
    a = frame_to_arrays(frame)
    o, h, lo, c = a.open.tolist(), a.high.tolist(), a.low.tolist(), a.close.tolist()
    probe = lo if break_on == "low" else c
    confirmed: dict[int, int] = {}
    for j in range(high_lookback, len(o)):
        significant = max(h[j - high_lookback:j + 1])
        outside = h[j] > h[j - 1] and lo[j] < lo[j - 1]
        if not (c[j] < o[j] and h[j] >= (1.0 - near_pct / 100.0) * significant and not outside):
            continue
        for k in range(j + 1, min(len(o), j + confirm_bars + 1)):
            if probe[k] < lo[j]:
                confirmed[k] = j  # j ascending: the most recent top wins
                break
    return confirmed


@pytest.mark.parametrize("params", [{}, {"high_lookback": 10, "near_pct": 0.1, "confirm_bars": 2,
                                         "break_on": "close"}])
def test_signals_are_exactly_the_documented_definition(params: dict) -> None:
    frame = REAL_SERIES["ftx_btc_perp_1m"]()
    a = frame_to_arrays(frame)
    want = reference_confirmations(frame, **params)
    sigs = assert_stream_equals_batch("pin_down", frame, **params)
    index = {t: i for i, t in enumerate(a.open_time.tolist())}
    got = {index[s.open_time]: index[s.features["top_open_time"]] for s in sigs}
    assert want and len(got) == len(sigs) and got == want
