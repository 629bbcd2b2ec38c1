"""A frame handed to ``run_batch``/``run_stream`` without ``tf`` is labelled with
its own timeframe (the most frequent step between its bars), not a 1m default:
the signals' ``tf``, ``event_time`` (the bar's close) and ids depend on it. A
step that is no timeframe (open times in seconds, an 8-minute series) is a clear
error naming what to pass."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from hand_candles import load_feather

from detectors import registry
from detectors.timeframes import TIMEFRAME_MS, infer_tf

pytestmark = pytest.mark.unit

MIN = 60_000


def test_the_most_frequent_step_wins_over_gaps_and_duplicates() -> None:
    t = [0, 5 * MIN, 10 * MIN, 10 * MIN, 25 * MIN, 30 * MIN, 35 * MIN, 95 * MIN, 100 * MIN]
    assert infer_tf(t) == "5m"
    for tf, length in TIMEFRAME_MS.items():
        assert infer_tf([k * length for k in range(4)]) == tf
    assert infer_tf([]) == infer_tf([7]) == infer_tf([7, 7]) == "1m"  # no step at all


@pytest.mark.parametrize(("times", "words"), [
    ([k * 300 for k in range(50)], "300 ms"),  # 5m bars with open_time in seconds
    ([k * 8 * MIN for k in range(50)], "8 min"),  # not a timeframe scanflow knows
])
def test_a_step_that_is_no_timeframe_names_what_to_pass(times: list[int], words: str) -> None:
    frame = pd.DataFrame({"open_time": times, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    for run in (lambda: registry.create("vsa").run_batch(frame), lambda: registry.create_set().run_batch(frame),
                lambda: registry.run_stream("vsa", frame)):
        with pytest.raises(ValueError, match=rf"{words}.*pass tf=.*milliseconds"):
            run()
    # an explicit tf is taken as given
    assert registry.create("vsa").run_batch(frame, tf="5m") == []


def test_real_5m_candles_are_labelled_5m_on_every_entry_point() -> None:
    frame = load_feather("freqtrade/ADA_BTC-5m.feather")  # Bittrex 5m, with gaps
    assert infer_tf(frame["open_time"].to_numpy()) == "5m"
    explicit = registry.create_set().run_batch(frame, tf="5m")
    assert explicit
    for got in (registry.create_set().run_batch(frame), registry.create_set().run_batch(pl.from_pandas(frame))):
        assert [s.id for s in got] == [s.id for s in explicit]
        assert {s.tf for s in got} == {"5m"}
        assert all(s.event_time == s.open_time + 5 * MIN - 1 for s in got)
    one = [s for s in explicit if s.detector == "vsa"]
    assert [s.id for s in registry.create("vsa").run_batch(frame)] == [s.id for s in one]
    assert [s.id for s in registry.run_stream("vsa", frame)] == [s.id for s in one]
    # the 1m label a frame used to get by default gives other ids and closes
    assert {s.id for s in registry.create("vsa").run_batch(frame, tf="1m")}.isdisjoint(s.id for s in one)
