"""mean_reversion: the worked example, each factor on and off, exact paths on real data."""

from __future__ import annotations

import pytest
from scanner_support import (
    REAL_SERIES,
    CandleBuilder,
    assert_checkpoint_and_correction_exact,
    assert_stream_equals_batch,
    signals_at,
    stream,
)

from detectors import registry

pytestmark = pytest.mark.unit


def worked_example(rise: tuple[float, ...] = (103.5, 107.0, 110.5, 114.5, 118.0),
                   vols: tuple[float, ...] = (120, 160, 260, 280, 230)) -> CandleBuilder:
    """30 choppy bars around 100 (closes alternate 101.35 / 100), then 5 green
    candles rising 18% with volume peaking at 2.3x average and now declining."""
    b = CandleBuilder()
    for i in range(30):
        c_prev, c = (100.0, 101.35) if i % 2 == 0 else (101.35, 100.0)
        b.add(c_prev, max(c_prev, c) + 0.3, min(c_prev, c) - 0.3, c, 100)
    prev = 100.0
    for c, v in zip(rise, vols, strict=True):
        b.add(prev, max(prev, c) + 0.2, min(prev, c) - 0.1, c, v)
        prev = c
    return b


def test_worked_example_is_reversion_bearish_with_score_100() -> None:
    b = worked_example()
    sigs = signals_at(stream("mean_reversion", b), b.last_open_time)
    assert len(sigs) == 1
    s = sigs[0]
    f = s.features
    assert (s.signal_type, s.direction, s.score) == ("REVERSION_BEARISH", "bearish", 100.0)
    assert f["reversion_score"] == 100.0 and f["candidate"] is True
    assert f["momentum_exhaustion"] and f["volume_exhaustion"] and f["excessive_gain"] and f["rsi_extreme"]
    assert f["move_pct"] == pytest.approx(18.0)
    assert f["volume_ratio"] == pytest.approx(2.3, abs=0.05)
    assert f["volume_decline"] >= 0.10
    assert f["rsi"] == pytest.approx(76, abs=1.0)
    assert f["streak"] == 5


def test_worked_example_mirrored_is_reversion_bullish() -> None:
    b = worked_example(rise=(96.5, 93.0, 89.5, 85.5, 82.0))
    s = signals_at(stream("mean_reversion", b), b.last_open_time)[0]
    assert (s.signal_type, s.direction, s.score) == ("REVERSION_BULLISH", "bullish", 100.0)
    assert s.features["rsi"] < 30 and s.features["move_pct"] == pytest.approx(-18.0)


def test_each_factor_can_be_switched_off() -> None:
    # volume still rising on the last bar: no volume exhaustion -> 75
    b = worked_example(vols=(120, 160, 200, 230, 280))
    f = signals_at(stream("mean_reversion", b), b.last_open_time)[0].features
    assert not f["volume_exhaustion"] and f["reversion_score"] == 75.0 and f["candidate"]
    # only a 10% rise: no excessive gain, and RSI lower
    b = worked_example(rise=(102.0, 104.0, 106.0, 108.0, 110.0))
    f = signals_at(stream("mean_reversion", b), b.last_open_time)[0].features
    assert not f["excessive_gain"] and f["move_pct"] == pytest.approx(10.0)
    assert f["reversion_score"] <= 75.0
    # the streak broken by one lower close: no momentum exhaustion
    b = worked_example(rise=(103.5, 103.0, 110.5, 114.5, 118.0))
    f = signals_at(stream("mean_reversion", b), b.last_open_time)[0].features
    assert not f["momentum_exhaustion"] and f["streak"] == 3
    assert f["reversion_score"] == 75.0


def test_quiet_market_never_signals() -> None:
    b = worked_example(rise=(100.5, 100.0, 100.6, 100.1, 100.4), vols=(100, 101, 99, 100, 100))
    assert stream("mean_reversion", b) == []


def test_no_signal_before_warmup() -> None:
    det = registry.create("mean_reversion")
    b = CandleBuilder()
    for i in range(det.warmup):  # a violent rise right from the first bar
        b.add(100 * 1.05**i, 100 * 1.05 ** (i + 1), 100 * 1.05**i, 100 * 1.05 ** (i + 1), 100 + 50 * i)
    assert stream("mean_reversion", b) == []


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="mean_reversion: peak_lookback"):
        registry.create("mean_reversion", peak_lookback=50)
    with pytest.raises(ValueError, match="mean_reversion"):
        registry.create("mean_reversion", rsi_oversold=80)
    with pytest.raises(ValueError, match="bad parameters"):
        registry.create("mean_reversion", nonsense=1)


@pytest.mark.parametrize("series", sorted(REAL_SERIES))
def test_streaming_equals_batch_on_real_candles(series: str) -> None:
    sigs = assert_stream_equals_batch("mean_reversion", REAL_SERIES[series]())
    assert sigs, f"no reversion signal at all on {series}"
    assert all(s.score >= 50 and s.direction != "neutral" for s in sigs)


def test_checkpoint_and_correction_are_exact() -> None:
    assert_checkpoint_and_correction_exact("mean_reversion", REAL_SERIES["xrp_eth_1m"]())
