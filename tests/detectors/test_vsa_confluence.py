"""vsa_confluence: all three components needed; scores, close-off-low, volume ratio."""

from __future__ import annotations

import pytest
from scanner_support import REAL_SERIES, CandleBuilder, assert_stream_equals_batch, stream

from detectors import registry
from detectors.base import frame_to_arrays
from detectors.features.window import trailing_max, trailing_mean, trailing_min

pytestmark = pytest.mark.unit


def base() -> tuple[CandleBuilder, float]:
    b = CandleBuilder().flat(25, price=100.0, volume=100.0, wiggle=0.5)  # spread 1.0, closes 99.75/100.25
    return b, 100.0


@pytest.mark.parametrize("mirror", [False, True])
def test_all_three_components_fire(mirror: bool) -> None:
    b, p = base()
    if not mirror:
        b.add(p, p + 2.0, p - 0.2, p + 1.8, 300)  # 3x volume, spread 2.2 > 1.0, close > 100.25
    else:
        b.add(p, p + 0.2, p - 2.0, p - 1.8, 300)
    sigs = stream("vsa_confluence", b)
    assert len(sigs) == 1
    s = sigs[0]
    f = s.features
    assert s.signal_type == "VSA_CONFLUENCE" and s.direction == ("bearish" if mirror else "bullish")
    assert f["volume_ratio"] == pytest.approx(3.0)
    assert f["close_off_low_pct"] == pytest.approx(9.0909 if mirror else 90.909, rel=1e-3)
    assert f["volume_score"] == pytest.approx(75.0) and f["spread_score"] == 100.0
    assert f["momentum_score"] == 100.0
    assert s.score == pytest.approx((75 + 100 + 100 + f["close_score"]) / 4)


@pytest.mark.parametrize("missing, bar", [
    ("volume", (100.0, 102.0, 99.8, 101.8, 150)),
    ("spread", (100.0, 100.9, 100.2, 100.8, 300)),
    ("momentum", (99.0, 100.2, 98.0, 100.1, 300)),
    ("close off low", (100.0, 102.0, 99.8, 100.4, 300)),
])
def test_any_missing_component_means_no_signal(missing: str, bar: tuple) -> None:
    b, _ = base()
    b.add(*bar)
    assert stream("vsa_confluence", b) == [], f"signal without {missing}"


def test_last_closed_and_params() -> None:
    b, p = base()
    b.add(p, p + 2.0, p - 0.2, p + 1.8, 300)
    t = b.last_open_time
    assert stream("vsa_confluence", b, evaluate_on="last_closed") == []
    b.add(p + 1.8, p + 2.0, p + 1.5, p + 1.7, 100)
    assert [s.open_time for s in stream("vsa_confluence", b, evaluate_on="last_closed")] == [t]
    with pytest.raises(ValueError, match="vsa_confluence"):
        registry.create("vsa_confluence", min_close_off_low=20)


@pytest.mark.parametrize("evaluate_on", ["current", "last_closed"])
@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str, evaluate_on: str) -> None:
    sigs = assert_stream_equals_batch("vsa_confluence", REAL_SERIES[series](), evaluate_on=evaluate_on)
    assert sigs and all(s.features["volume_ratio"] >= 2.0 for s in sigs)


@pytest.mark.parametrize("params", [{}, {"window": 10, "volume_mult": 1.5, "spread_lookback": 5,
                                         "momentum_lookback": 15, "min_close_off_low": 55.0}],
                         ids=["defaults", "other"])
def test_signals_are_exactly_the_documented_conditions(params: dict) -> None:
    frame = REAL_SERIES["ftx_btc_perp_1m"]()
    p = registry.create("vsa_confluence", **params).params
    a = frame_to_arrays(frame)
    h, lo, c, v = a.high, a.low, a.close, a.volume
    spread = h - lo
    mean_v, max_spread = trailing_mean(v, p.window), trailing_max(spread, p.spread_lookback)
    hi_close, lo_close = trailing_max(c, p.momentum_lookback), trailing_min(c, p.momentum_lookback)
    want = []
    for i in range(max(p.window, p.spread_lookback, p.momentum_lookback), len(a)):
        if not (mean_v[i] > 0 and spread[i] > 0 and v[i] / mean_v[i] >= p.volume_mult
                and spread[i] > max_spread[i]):
            continue
        col = 100.0 * (c[i] - lo[i]) / spread[i]
        if c[i] > hi_close[i] and col >= p.min_close_off_low:
            want.append((int(a.open_time[i]), "bullish"))
        elif c[i] < lo_close[i] and col <= 100.0 - p.min_close_off_low:
            want.append((int(a.open_time[i]), "bearish"))
    sigs = assert_stream_equals_batch("vsa_confluence", frame, **params)
    assert want and [(s.open_time, s.direction) for s in sigs] == want
