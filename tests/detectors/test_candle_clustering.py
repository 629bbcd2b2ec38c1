"""candle_clustering: hand-built clusters (positive and negative), exact paths on real data."""

from __future__ import annotations

import pytest
from scanner_support import (
    REAL_SERIES,
    CandleBuilder,
    assert_checkpoint_and_correction_exact,
    assert_stream_equals_batch,
    stream,
)

from detectors import registry

pytestmark = pytest.mark.unit


def rising_with_hv(n: int = 12, hv_every: int = 2, step: float = 1.0) -> CandleBuilder:
    b = CandleBuilder().flat(25)
    price = 100.0
    for i in range(n):
        c = price + step
        b.add(price, max(price, c) + 0.2, min(price, c) - 0.2, c, 300 if i % hv_every == 0 else 100)
        price = c
    return b


def test_bullish_cluster_forms_a_trend_once() -> None:
    sigs = stream("candle_clustering", rising_with_hv())
    assert len(sigs) == 1, "one signal when the trend forms, none while it persists"
    s = sigs[0]
    f = s.features
    assert (s.signal_type, s.direction) == ("CLUSTER_TREND", "bullish")
    assert f["trend_formed"] and f["directional_ratio"] == 1.0 and f["follow_through"] == 1.0
    assert f["bull_clusters"] == 1 and f["bear_clusters"] == 0 and f["bull_hv_candles"] >= 3
    assert f["cluster_strength"] == 1.0 and s.score == 100.0


def test_bearish_cluster_is_bearish() -> None:
    sigs = stream("candle_clustering", rising_with_hv(step=-1.0))
    assert [(s.signal_type, s.direction) for s in sigs] == [("CLUSTER_TREND", "bearish")]


def test_alternating_high_volume_candles_form_no_trend() -> None:
    b = CandleBuilder().flat(25)
    price = 100.0
    for i in range(16):  # hv candles alternate green / red, closes chop
        c = price + (1.0 if i % 2 == 0 else -1.0)
        b.add(price, max(price, c) + 0.2, min(price, c) - 0.2, c, 300)
        price = c
    assert stream("candle_clustering", b) == []


def test_no_follow_through_forms_no_trend() -> None:
    b = CandleBuilder().flat(25)
    price = 100.0
    for _ in range(5):  # a green hv candle, then three lower closes every time
        b.add(price, price + 2.2, price - 0.2, price + 2.0, 300)
        price += 2.0
        for _ in range(3):
            b.add(price, price + 0.1, price - 0.8, price - 0.7, 100)
            price -= 0.7
    assert stream("candle_clustering", b) == []
    # the same with follow-through allowed to be zero does form a trend
    assert stream("candle_clustering", b, follow_through_min=0.0)


def test_two_separate_runs_count_as_two_clusters() -> None:
    b = rising_with_hv()
    price = b.rows[-1][4]
    c = price - 1.0
    b.add(price, price + 0.2, c - 0.2, c, 400)  # one red hv candle splits the bull run
    for _ in range(3):
        b.add(c, c + 1.2, c - 0.2, c + 1.0, 600)
        c += 1.0
    det = registry.create("candle_clustering", follow_through_min=0.0, trend_ratio=0.5)
    det.run_batch(b.frame())
    from detectors.features.scanner import ScannerState, scanner_series
    arr = scanner_series(det.params, *(b.frame()[k].to_numpy() for k in ("open", "close", "volume")),
                         clustering=True)
    k = arr.counts(len(b.rows) - 1)
    assert (k.bull_clusters, k.bear_clusters) == (2, 1)
    state = ScannerState(det.params, clustering=True)
    for bar in b.bars():
        state.update(bar.open, bar.close, bar.volume)
    assert state.counts() == k


@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str) -> None:
    sigs = assert_stream_equals_batch("candle_clustering", REAL_SERIES[series]())
    assert sigs and all(0 <= s.score <= 100 and s.features["trend_formed"] for s in sigs)


def test_checkpoint_and_correction_are_exact() -> None:
    assert_checkpoint_and_correction_exact("candle_clustering", REAL_SERIES["ada_btc_5m"]())
