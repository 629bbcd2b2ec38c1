"""``scanflow bench detectors`` runs end to end on a small slice of real candles
and reports consistent figures (it asserts nothing about speed: figures are
printed for people, budgets are judged from them)."""

from __future__ import annotations

import pytest

from bench import detectors as bench
from detectors import registry

pytestmark = pytest.mark.unit


def test_detector_bench_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    figures = bench.main(["--batch-bars", "3000", "--stream-bars", "300", "--warm-bars", "200",
                          "--pandas-bars", "10", "--rounds", "3"])
    out = capsys.readouterr().out
    assert figures["bars"] == 3000
    for key in ("reference_loop_ms", "stream_us_full_set", "stream_us_indicators",
                "batch_candles_per_s_indicators", "batch_candles_per_s_full_set", "pandas_recompute_us_per_bar"):
        assert figures[key] > 0, key
    assert set(figures["stream_us_per_detector"]) == set(registry.available())
    # the full-set figures: best and median of the interleaved rounds
    assert figures["rounds"] == 3 and len(figures["stream_us_full_set_runs"]) == 3
    assert figures["stream_us_full_set"] == min(figures["stream_us_full_set_runs"])
    assert figures["stream_us_full_set"] <= figures["stream_us_full_set_median"]
    assert figures["batch_candles_per_s_full_set"] == 3000 / min(figures["batch_s_full_set_runs"])
    assert figures["batch_candles_per_s_full_set"] >= figures["batch_candles_per_s_full_set_median"]
    assert len(figures["reference_loop_ms_per_round"]) == 3 and min(figures["reference_loop_ms_per_round"]) > 0
    # the signal counts are those of the set's batch run on the same bars
    want: dict[str, int] = {}
    frame, _ = bench.load_candles(bench.DEFAULT_DATA, 3000)
    for sig in registry.create_set().run_batch(frame):
        want[sig.detector] = want.get(sig.detector, 0) + 1
    assert figures["batch_signals_per_detector"] == want and sum(want.values()) > 0
    for name in registry.available():
        assert name in out
    assert "budget <= 50 µs" in out and "budget >= 250,000" in out and "per candle" in out
    assert "median of the 3 rounds" in out and "machine speed in each round" in out
