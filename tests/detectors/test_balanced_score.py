"""balanced_score: the worked example, each class of the mapping, exact paths."""

from __future__ import annotations

import pytest
from scanner_support import (
    REAL_SERIES,
    assert_checkpoint_and_correction_exact,
    assert_stream_equals_batch,
    signals_at,
    stream,
)
from test_mean_reversion import worked_example
from test_momentum import burst

from detectors import registry

pytestmark = pytest.mark.unit


def test_worked_example_is_reversion_bearish_with_reversion_score_100() -> None:
    b = worked_example()
    sigs = signals_at(stream("balanced_score", b), b.last_open_time)
    assert len(sigs) == 1
    s = sigs[0]
    assert (s.signal_type, s.direction, s.score) == ("REVERSION_BEARISH", "bearish", 100.0)
    f = s.features
    assert f["reversion_score"] == 100.0 and f["rsi"] == pytest.approx(76, abs=1)
    assert f["peak_volume_ratio"] == pytest.approx(2.3, abs=0.05)
    # momentum is strong and bullish, yet exhaustion wins; the combination nets out
    assert f["momentum_direction"] == "bullish" and f["momentum_score"] == 100.0
    assert f["combined_score"] == pytest.approx(abs(0.6 * 100 - 0.4 * 100))


def test_fresh_momentum_without_exhaustion_is_momentum_buy() -> None:
    b = burst([0.5, 0.5, 0.5, 0.5, 1.0], [100, 100, 100, 100, 300])
    s = signals_at(stream("balanced_score", b), b.last_open_time)[0]
    assert (s.signal_type, s.direction) == ("MOMENTUM_BUY", "bullish")
    assert s.features["reversion_score"] <= 25 and s.score == s.features["momentum_score"]
    b = burst([-0.5, -0.5, -0.5, -0.5, -1.0], [100, 100, 100, 100, 300])
    assert signals_at(stream("balanced_score", b), b.last_open_time)[0].signal_type == "MOMENTUM_SELL"


def test_strong_and_weak_bands_and_bias() -> None:
    det = registry.create("balanced_score")
    assert det._classify(80.0, 1, 50.0, 1)[:3] == ("STRONG_BUY", 1, pytest.approx(68.0))
    assert det._classify(50.0, -1, 50.0, -1)[:3] == ("WEAK_SELL", -1, pytest.approx(50.0))
    assert det._classify(50.0, 1, 25.0, 0)[0] == "NEUTRAL"  # 30 < 40
    assert det._classify(100.0, 1, 100.0, -1)[0] == "REVERSION_BEARISH"
    assert det._classify(70.0, 1, 0.0, 0)[0] == "MOMENTUM_BUY"
    biased = registry.create("balanced_score", momentum_weight=0.2)
    assert biased._classify(50.0, 1, 50.0, 1)[2] == pytest.approx(50.0)
    assert biased._classify(80.0, 1, 50.0, 1)[:2] == ("WEAK_BUY", 1)  # 16 + 40 = 56
    assert registry.create("balanced_score", emit_neutral=True).params.emit_neutral


def test_quiet_market_emits_nothing_unless_neutral_requested() -> None:
    b = burst([0.1, -0.1, 0.1, -0.1, 0.1], [100, 100, 100, 100, 100])
    assert stream("balanced_score", b) == []
    sigs = stream("balanced_score", b, emit_neutral=True)
    assert sigs and all(s.signal_type == "NEUTRAL" and s.direction == "neutral" for s in sigs)


@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str) -> None:
    sigs = assert_stream_equals_batch("balanced_score", REAL_SERIES[series]())
    assert sigs and all(s.signal_type != "NEUTRAL" for s in sigs)


def test_streaming_equals_batch_with_neutral() -> None:
    assert_stream_equals_batch("balanced_score", REAL_SERIES["xrp_eth_1m"](), emit_neutral=True)


def test_checkpoint_and_correction_are_exact() -> None:
    assert_checkpoint_and_correction_exact("balanced_score", REAL_SERIES["ada_btc_5m"]().iloc[:3000])
