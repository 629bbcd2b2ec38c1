"""vsa: every VSA bar type, positive and negative, both directions (mirror images),
evaluate_on, and exact paths on real data."""

from __future__ import annotations

import pytest
from scanner_support import (
    REAL_SERIES,
    CandleBuilder,
    assert_stream_equals_batch,
    signals_at,
    stream,
)

from detectors import registry
from detectors.base import frame_to_arrays
from detectors.features.window import shift, trailing_max, trailing_mean, trailing_min
from detectors.vsa import _decode, _vsa_match_py

pytestmark = pytest.mark.unit


def context(trend: int, quiet: bool = False) -> tuple[CandleBuilder, float]:
    """25 flat bars (volume 100, spread 1.0) then 11 bars trending ``trend`` (+1 up,
    -1 down, 0 flat), spread 1.0 each. Returns the builder and the last close."""
    b = CandleBuilder().flat(25, price=100.0, volume=100.0, wiggle=0.5)
    price = b.rows[-1][4]
    for i in range(11):
        if trend == 0:
            o, c = (price, price + 0.3) if i % 2 else (price, price - 0.3)
        else:
            o, c = price, price + 0.3 * trend
        v = 60.0 if quiet and i >= 8 else 100.0
        b.add(o, max(o, c) + 0.35, min(o, c) - 0.35, c, v)
        price = c
    return b, price


def mirrored(b: CandleBuilder, k: float = 200.0) -> CandleBuilder:
    m = CandleBuilder()
    for t, o, h, lo, c, v in b.rows:
        m.rows.append((t, k - o, k - lo, k - h, k - c, v))
    return m


def last_signal(b: CandleBuilder, **params) -> tuple[str, str] | None:
    sigs = signals_at(stream("vsa", b, **params), b.last_open_time)
    return (sigs[0].signal_type, sigs[0].direction) if sigs else None


# (name, trend, quiet, last bar as offsets from the last close: o, h, l, c, volume)
CASES = {
    "BREAKOUT_BAR": (1, False, (0.0, 2.6, -0.1, 2.5, 200.0), (0.0, 2.6, -0.1, 2.5, 120.0)),
    "STOP_BAR": (-1, False, (0.0, 0.2, -1.5, -0.5, 250.0), (0.0, 0.2, -1.5, -0.5, 160.0)),
    "REVERSAL_BAR": (-1, False, (0.0, 0.8, -1.0, 0.7, 160.0), (0.0, 0.8, -1.0, -0.1, 160.0)),
    "START_BAR": (0, True, (0.0, 1.0, -0.2, 0.9, 150.0), None),
    "LOADED_BAR": (1, False, (0.0, 0.3, -0.2, 0.1, 200.0), (0.0, 0.8, -0.4, 0.6, 200.0)),
    "TEST_BAR": (1, False, (-0.5, -0.2, -0.8, -0.3, 50.0), (-0.5, -0.2, -0.8, -0.3, 90.0)),
}
BULLISH = {"BREAKOUT_BAR": "bullish", "STOP_BAR": "bullish", "REVERSAL_BAR": "bullish",
           "START_BAR": "bullish", "LOADED_BAR": "bearish", "TEST_BAR": "bullish"}


def build(kind: str, positive: bool) -> CandleBuilder:
    trend, quiet, pos, neg = CASES[kind]
    b, p = context(trend, quiet=quiet)
    if not positive and neg is None:  # START: the same bar without the quiet stretch
        b, p = context(trend, quiet=False)
        neg = pos
    o, h, lo, c, v = pos if positive else neg
    return b.add(p + o, p + h, p + lo, p + c, v)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bar_type_positive_and_negative(kind: str) -> None:
    assert last_signal(build(kind, True)) == (kind, BULLISH[kind])
    got = last_signal(build(kind, False))
    assert got is None or got[0] != kind, f"negative {kind} case still matched: {got}"


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bar_type_mirror_image_has_opposite_direction(kind: str) -> None:
    other = "bearish" if BULLISH[kind] == "bullish" else "bullish"
    assert last_signal(mirrored(build(kind, True))) == (kind, other)
    got = last_signal(mirrored(build(kind, False)))
    assert got is None or got[0] != kind


def test_signal_carries_ratios_and_score() -> None:
    b = build("BREAKOUT_BAR", True)
    s = signals_at(stream("vsa", b), b.last_open_time)[0]
    f = s.features
    assert f["volume_ratio"] == pytest.approx(2.0) and f["spread_ratio"] > 2.5
    assert f["close_position"] > 0.9 and f["trend"] == 1 and "BREAKOUT_BAR" in f["matched"]
    assert 0 < s.score <= 100


def test_evaluate_on_last_closed_emits_one_bar_later_for_the_same_bar() -> None:
    b = build("STOP_BAR", True)
    bar_time = b.last_open_time
    assert signals_at(stream("vsa", b, evaluate_on="last_closed"), bar_time) == []
    p = b.rows[-1][4]
    b.add(p, p + 0.4, p - 0.4, p + 0.1, 100.0)
    sigs = stream("vsa", b, evaluate_on="last_closed")
    s = signals_at(sigs, bar_time)[0]
    assert s.signal_type == "STOP_BAR" and s.features["evaluated_on"] == "last_closed"
    # streaming: the signal arrives with the next bar
    det = registry.create("vsa", evaluate_on="last_closed")
    emitted = [det.update_bar(x) for x in b.bars()]
    assert [x.open_time for x in emitted[-1]] == [bar_time] and emitted[-2] == []


def test_flat_market_and_bad_params() -> None:
    b = CandleBuilder()
    for _ in range(60):
        b.add(100, 100, 100, 100, 0.0)  # flat bars, zero volume
    assert stream("vsa", b) == []
    with pytest.raises(ValueError, match="vsa: evaluate_on"):
        registry.create("vsa", evaluate_on="open")
    with pytest.raises(ValueError, match="vsa"):
        registry.create("vsa", narrow_spread=1.5)


@pytest.mark.parametrize("evaluate_on", ["current", "last_closed"])
@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str, evaluate_on: str) -> None:
    sigs = assert_stream_equals_batch("vsa", REAL_SERIES[series](), evaluate_on=evaluate_on)
    assert {s.signal_type for s in sigs} == set(CASES), f"{series}: not every bar type seen"


OTHER = {"window": 14, "trend_bars": 6, "breakout_lookback": 7, "quiet_bars": 4, "high_volume": 1.4,
         "very_high_volume": 1.8, "start_volume": 1.1, "low_volume": 0.8, "wide_spread": 1.3,
         "reversal_spread": 1.1, "narrow_spread": 0.9, "close_high": 0.65, "close_low": 0.35}


@pytest.mark.parametrize("params", [{}, OTHER], ids=["defaults", "other"])
def test_shortcuts_skip_only_bars_no_type_matches(params: dict) -> None:
    """Every bar after warm-up put through ``_vsa_match`` with its full inputs (plain
    trailing windows, no shortcuts) gives exactly the detector's signals."""
    frame = REAL_SERIES["ftx_btc_perp_1m"]()
    det = registry.create("vsa", **params)
    p = det.params
    a = frame_to_arrays(frame)
    o, h, lo, c, v = a.open, a.high, a.low, a.close, a.volume
    mean_v, mean_s = trailing_mean(v, p.window), trailing_mean(h - lo, p.window)
    ref, c1, h1, l1 = shift(c, p.trend_bars + 1), shift(c, 1), shift(h, 1), shift(lo, 1)
    v1, v2 = shift(v, 1), shift(v, 2)
    hh, ll = trailing_max(h, p.breakout_lookback), trailing_min(lo, p.breakout_lookback)
    qmax = trailing_max(v, p.quiet_bars)
    want = []
    for i in range(det.warmup, len(a)):
        if not (mean_v[i] > 0 and mean_s[i] > 0):
            continue
        spread = h[i] - lo[i]
        cp = (c[i] - lo[i]) / spread if spread > 0 else 0.5
        trend = 1 if c1[i] > ref[i] else -1 if c1[i] < ref[i] else 0
        m = _vsa_match_py(*(float(x[i]) for x in (o, h, lo, c, v)), float(v[i] / mean_v[i]),
                          float(spread / mean_s[i]), float(cp), trend,
                          *(float(x[i]) for x in (c1, h1, l1, v1, v2, hh, ll, qmax, mean_v)), det._th)
        if m:
            want.append((int(a.open_time[i]), m))
    sigs = assert_stream_equals_batch("vsa", frame, **params)
    assert want and len(sigs) == len(want)
    for s, (t, m) in zip(sigs, want, strict=True):
        kind, bullish, matched = _decode(m)
        assert (s.open_time, s.signal_type, s.direction == "bullish", s.features["matched"]) == (
            t, kind, bullish, list(matched))
