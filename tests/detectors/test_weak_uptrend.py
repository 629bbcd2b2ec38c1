"""weak_uptrend: each weakness pattern W1-W5 (and the three W3 methods) positive and
negative, W3 mandatory, uptrend context, evaluate_on, exact paths on real data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hand_candles import exact
from scanner_support import (
    REAL_SERIES,
    CandleBuilder,
    assert_checkpoint_and_correction_exact,
    assert_stream_equals_batch,
    signals_at,
    stream,
)

from detectors import registry
from detectors import weak_uptrend as W
from detectors.base import Bar, frame_to_arrays
from detectors.features.window import WilderRSI, rsi_series, shift, trailing_mean
from detectors.weak_uptrend import FLAGS, WeakUptrendParams, bar_flags

pytestmark = pytest.mark.unit
P = WeakUptrendParams()
NAN = math.nan


def flags(h, lo, c, v, *, rsi=50.0, h1=101.0, lo1=99.0, c1=100.5, c2=100.0, v1=100.0, rsi1=50.0,
          mean_v=100.0, mean_s=2.0) -> dict[str, bool]:
    return dict(zip(FLAGS, bar_flags(P, h, lo, c, v, rsi, h1, lo1, c1, c2, v1, rsi1, mean_v, mean_s), strict=True))


# previous bar: high 101, low 99 (spread 2), close 100.5 (it gained 0.5), volume 100
@pytest.mark.parametrize("flag, positive, negative", [
    ("w1", dict(h=101.5, lo=100, c=101, v=80), dict(h=101.5, lo=100, c=101, v=120)),
    ("w1", dict(h=101.5, lo=100, c=101, v=80), dict(h=100.9, lo=100, c=100.8, v=80)),
    ("w2", dict(h=101.5, lo=99.6, c=101, v=100), dict(h=102.5, lo=100, c=102.2, v=100)),
    ("w2", dict(h=101.5, lo=99.6, c=101, v=100), dict(h=101.0, lo=99.1, c=100.2, v=100)),
    ("w3_smaller_gain", dict(h=101.2, lo=100, c=100.8, v=100), dict(h=101.6, lo=100, c=101.5, v=100)),
    ("w3_rsi_divergence", dict(h=101.5, lo=100, c=101, v=100, rsi=60, rsi1=65), dict(h=101.5, lo=100, c=101, v=100, rsi=70, rsi1=65)),
    ("w3_weak_close", dict(h=101.5, lo=100, c=100.6, v=100), dict(h=101.5, lo=100, c=101.2, v=100)),
    ("w4", dict(h=101.5, lo=100, c=101, v=200), dict(h=101.5, lo=100, c=101, v=199)),
    ("w5", dict(h=101, lo=97.5, c=98, v=100), dict(h=101, lo=98.5, c=98.7, v=100)),
    ("w5", dict(h=101, lo=97.5, c=98, v=100), dict(h=103.5, lo=100, c=103, v=100)),
])
def test_each_pattern_positive_and_negative(flag: str, positive: dict, negative: dict) -> None:
    assert flags(**positive)[flag] is True
    assert flags(**negative)[flag] is False


def test_missing_inputs_never_make_a_pattern() -> None:
    got = flags(h=200, lo=1, c=2, v=1e9, h1=NAN, lo1=NAN, c1=NAN, c2=NAN, v1=NAN, rsi1=NAN,
                mean_v=NAN, mean_s=NAN)
    assert not any(got.values())


def rising(n: int = 25) -> tuple[CandleBuilder, float]:
    b = CandleBuilder()
    p = 100.0
    for _ in range(n):
        b.add(p, p + 1.2, p - 0.2, p + 1.0, 100)
        p += 1.0
    return b, p


def test_w1_w2_w3_on_one_bar_signal() -> None:
    b, p = rising()
    b.add(p, p + 0.5, p - 0.2, p + 0.3, 80)  # higher high, lower volume, smaller spread and gain
    sigs = stream("weak_uptrend", b)
    assert len(sigs) == 1 and sigs[0].open_time == b.last_open_time
    s = sigs[0]
    f = s.features
    assert (s.signal_type, s.direction, s.score) == ("WEAK_UPTREND", "bearish", 60.0)
    assert f["w1"] and f["w2"] and f["w3"] and f["w3_smaller_gain"] and not f["w4"] and not f["w5"]


def three_without_w3() -> tuple[CandleBuilder, float]:
    b, p = rising()
    b.add(p, p + 1.1, p - 0.1, p + 1.0, 100)  # A: W2 only
    p += 1.0
    b.add(p, p + 2.1, p - 0.1, p + 2.0, 300)  # B: W4 only (bigger gain, more volume)
    p += 2.0
    return b, p


def test_w3_is_mandatory() -> None:
    b, p = three_without_w3()
    b.add(p, p + 0.1, p - 2.5, p - 1.0, 100)  # C: W5 only, no higher high
    sigs = stream("weak_uptrend", b)
    assert sigs == [], "W2 + W4 + W5 without momentum loss is not a weak uptrend"
    b, p = three_without_w3()
    b.add(p, p + 0.3, p - 2.5, p - 1.5, 100)  # C': higher high, lower volume, weak close, wide + lower
    s = signals_at(stream("weak_uptrend", b), b.last_open_time)[0]
    f = s.features
    assert s.score == 100.0 and f["pattern_count"] == 5 and f["w3_weak_close"] and f["w5"] and f["w4"]


def test_no_signal_without_uptrend() -> None:
    b = CandleBuilder()
    p = 200.0
    for _ in range(25):  # falling market
        b.add(p, p + 0.2, p - 1.2, p - 1.0, 100)
        p -= 1.0
    b.add(p, p + 0.5, p - 0.2, p + 0.3, 80)  # the same W1+W2+W3 bar
    assert stream("weak_uptrend", b) == []


def test_evaluate_on_last_closed() -> None:
    b, p = rising()
    b.add(p, p + 0.5, p - 0.2, p + 0.3, 80)
    t = b.last_open_time
    assert stream("weak_uptrend", b, evaluate_on="last_closed") == []
    b.add(p + 0.3, p + 0.4, p + 0.1, p + 0.2, 80)
    sigs = stream("weak_uptrend", b, evaluate_on="last_closed")
    assert [s.open_time for s in sigs] == [t]
    with pytest.raises(ValueError, match="weak_uptrend: evaluate_on"):
        registry.create("weak_uptrend", evaluate_on="now")


@pytest.mark.parametrize("evaluate_on", ["current", "last_closed"])
@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str, evaluate_on: str) -> None:
    sigs = assert_stream_equals_batch("weak_uptrend", REAL_SERIES[series](), evaluate_on=evaluate_on)
    assert sigs and all(s.features["w3"] and s.features["pattern_count"] >= 3 for s in sigs)


def test_checkpoint_and_correction_are_exact() -> None:
    assert_checkpoint_and_correction_exact("weak_uptrend", REAL_SERIES["xrp_eth_1m"](), evaluate_on="last_closed")


def real_bars(n: int) -> list[Bar]:
    a = frame_to_arrays(REAL_SERIES["ftx_btc_perp_1m"]().iloc[:n])
    return [Bar(*row) for row in zip(*(x.tolist() for x in (a.open_time, a.open, a.high, a.low, a.close, a.volume)),
                                     strict=True)]


def test_rsi_is_wilder_rsi_to_the_bit() -> None:
    """The RSI the compiled step computes is WilderRSI's: the signals carry its value
    and the state holds its sums, previous close, count and value."""
    bars = real_bars(5000)
    want = dict(zip([b.open_time for b in bars], rsi_series(np.array([b.close for b in bars]), 14).tolist(),
                    strict=True))
    det = registry.create("weak_uptrend")
    sigs = [s for b in bars for s in det.update_bar(b)]
    assert len(sigs) > 50 and all(s.features["rsi"] == want[s.open_time] for s in sigs)
    ref = WilderRSI(14)
    for b in bars:
        ref.update(b.close)
    st = det._s
    assert (st[W.C1], st[W.N], st[W.GAIN], st[W.LOSS], st[W.RSI1]) == (ref.prev, ref.count, ref.gain, ref.loss,
                                                                        ref.value)


#: checkpoints written by the first layout (deques and tuples, before the compiled
#: step) after ``cut`` bars of real_bars(); the last_closed one holds a pending signal
V1_CHECKPOINTS = [("weak_uptrend_v1_current_1000.msgpack", {}, 1000),
                  ("weak_uptrend_v1_last_closed_903.msgpack", {"evaluate_on": "last_closed"}, 903)]


@pytest.mark.parametrize(("name", "params", "cut"), V1_CHECKPOINTS, ids=["current", "last_closed"])
def test_checkpoint_of_the_first_layout_resumes_exactly(name: str, params: dict, cut: int) -> None:
    """A checkpoint taken before the state became one vector restores into it: the
    series continues exactly as if never interrupted, a correction of the last bar
    right after restoring (undone from the old layout's snapshot) included."""
    bars = real_bars(3000)
    blob = (Path(__file__).parent / "resources" / name).read_bytes()

    def resumed() -> Any:
        det = registry.create("weak_uptrend", **params)
        det.set_state(blob)
        assert det.last_open_time == bars[cut - 1].open_time
        return det

    def fresh(upto: list[Bar]) -> Any:
        det = registry.create("weak_uptrend", **params)
        det.meta = resumed().meta
        for b in upto:
            det.update_bar(b)
        return det

    def rest(det: Any, more: list[Bar]) -> list[bytes]:
        return exact([s for b in more for s in det.update_bar(b)])

    want = rest(fresh(bars[:cut]), bars[cut:])
    assert len(want) > 100
    assert rest(resumed(), bars[cut:]) == want
    fixed = msgspec.structs.replace(bars[cut - 1], close=bars[cut - 1].low)
    assert rest(resumed(), [fixed] + bars[cut:]) == rest(fresh(bars[:cut - 1]), [fixed] + bars[cut:])


def test_checkpoint_of_another_configuration_is_refused() -> None:
    det = registry.create("weak_uptrend")
    for b in real_bars(200):
        det.update_bar(b)
    blob = det.get_state()
    registry.create("weak_uptrend").set_state(blob)  # the same configuration: fine
    for params in ({"window": 21, "trend_bars": 9}, {"recent_bars": 4}):  # another ring layout
        with pytest.raises(ValueError, match="another version or configuration"):
            registry.create("weak_uptrend", **params).set_state(blob)


def reference_signals(frame, p: WeakUptrendParams) -> list[tuple[int, int, tuple[bool, ...]]]:
    """The docstring's definition written out with :func:`bar_flags` on every bar:
    (open time, pattern count, active flags) of each WEAK_UPTREND edge."""
    a = frame_to_arrays(frame)
    h, lo, c, v = a.high, a.low, a.close, a.volume
    rsi = rsi_series(c, p.rsi_period)
    mean_v, mean_s = trailing_mean(v, p.window), trailing_mean(h - lo, p.window)
    cols = [h, lo, c, v, rsi, shift(h, 1), shift(lo, 1), shift(c, 1), shift(c, 2), shift(v, 1),
            shift(rsi, 1), mean_v, mean_s]
    flags = [bar_flags(p, *(float(x[i]) for x in cols)) for i in range(len(a))]
    warmup = max(p.window, p.trend_bars, p.rsi_period + 1)
    out, was_weak = [], False
    for t in range(len(a)):
        active = tuple(any(f[k] for f in flags[max(0, t - p.recent_bars + 1):t + 1]) for k in range(len(FLAGS)))
        w3 = active[2] or active[3] or active[4]
        count = active[0] + active[1] + w3 + active[5] + active[6]
        weak = t >= warmup and c[t] > c[t - p.trend_bars] and w3 and count >= p.min_patterns
        if weak and not was_weak:
            out.append((int(a.open_time[t]), int(count), active))
        was_weak = weak
    return out


@pytest.mark.parametrize("params", [{}, {"window": 12, "trend_bars": 6, "rsi_period": 9, "similar_spread": 0.2,
                                         "excess_volume": 1.6, "wide_spread": 1.2, "recent_bars": 2,
                                         "min_patterns": 2}], ids=["defaults", "other"])
def test_signals_follow_bar_flags_on_every_bar(params: dict) -> None:
    frame = REAL_SERIES["ftx_btc_perp_1m"]()
    want = reference_signals(frame, WeakUptrendParams(**params))
    sigs = assert_stream_equals_batch("weak_uptrend", frame, **params)
    got = [(s.open_time, s.features["pattern_count"], tuple(s.features[f] for f in FLAGS)) for s in sigs]
    assert want and got == want
