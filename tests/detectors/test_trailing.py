"""Trailing means shared by the volume detectors within one batch run."""

from __future__ import annotations

import numpy as np
import pytest
from hand_candles import exact, load_ftx_perp

from detectors import registry
from detectors.base import DetectorSet, SeriesMeta, frame_to_arrays
from detectors.features.trailing import shared_trailing_mean
from detectors.features.window import seq_sum, trailing_mean

pytestmark = pytest.mark.unit

#: the members that read the shared means, one of them with another window
MEMBERS = {"vsa": {}, "vsa_confluence": {}, "volume_surge": {"window": 14}, "weak_uptrend": {}}


def test_mean_is_the_streaming_sum_and_is_computed_once_per_run() -> None:
    bars = frame_to_arrays(load_ftx_perp(3000))
    got = shared_trailing_mean(bars, "spread", 20)
    assert shared_trailing_mean(bars, "spread", 20) is got  # memoized for the run
    spreads = (bars.high - bars.low).tolist()
    assert np.isnan(got[:20]).all()
    # bit for bit what streaming computes: the sequential sum of the 20 bars before, / 20
    assert got[20:].tolist() == [seq_sum(spreads[i - 20:i]) / 20 for i in range(20, len(spreads))]
    np.testing.assert_array_equal(shared_trailing_mean(bars, "volume", 7), trailing_mean(bars.volume, 7))
    assert set(bars.shared) == {("trailing_mean", "spread", 20), ("trailing_mean", "volume", 7)}
    with pytest.raises(ValueError, match="close"):
        shared_trailing_mean(bars, "close", 20)
    with pytest.raises(ValueError, match="window"):
        shared_trailing_mean(bars, "volume", 0)


@pytest.mark.parametrize("window", [1, 3, 20])
def test_every_length_gives_window_trailing_mean_bit_for_bit(window: int) -> None:
    """Four windows at a time, then the last ones singly: every series length, short
    ones included, gives exactly what trailing_mean gives."""
    frame = load_ftx_perp(100)
    for n in range(0, window + 9):
        bars = frame_to_arrays(frame.iloc[:n])
        for source, values in (("volume", bars.volume), ("spread", bars.high - bars.low)):
            got = shared_trailing_mean(bars, source, window)
            assert got.tobytes() == trailing_mean(values, window).tobytes(), (source, n)


def test_members_sharing_the_means_give_their_own_signals() -> None:
    frame = load_ftx_perp(20_000)
    meta = {"exchange": "test", "market": "spot", "symbol": "TEST/USDT", "tf": "1m"}
    dets = {name: registry.create(name, **params) for name, params in MEMBERS.items()}
    together = DetectorSet(dets).run_batch(frame, **meta)
    alone = [s for name, params in MEMBERS.items()
             for s in registry.create(name, **params).run_batch(frame, **meta)]
    assert len(alone) > 1000 and {s.detector for s in alone} == set(MEMBERS)
    assert exact(together) == exact(alone)
    # one run's arrays: one mean per (source, window), whichever member asked first
    bars = frame_to_arrays(frame)
    for det in dets.values():
        det._run_arrays(bars, SeriesMeta(**meta))
    assert set(bars.shared) == {("trailing_mean", "volume", 20), ("trailing_mean", "spread", 20),
                                ("trailing_mean", "volume", 14), ("trailing_mean", "spread", 14)}
