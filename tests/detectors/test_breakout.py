"""Levels, momentum breakout and retest on a hand-built range, positive and
negative, plus streaming == batch on real candles."""

from __future__ import annotations

import pytest
from hand_candles import MINUTE, T0, assert_stream_equals_batch, comparable, frame, real, stream

from detectors.breakout import Breakout
from detectors.levels import LevelBook, SupportResistance
from detectors.registry import available, create
from detectors.retest import Retest

pytestmark = pytest.mark.unit

V = 100.0


def leg(c_from: float, c_to: float, n: int, v: float = V) -> list[tuple]:
    rows = []
    prev = c_from
    for j in range(1, n + 1):
        c = c_from + (c_to - c_from) * j / n
        rows.append((prev, max(prev, c) + 0.1, min(prev, c) - 0.1, c, v))
        prev = c
    return rows


def range_rows() -> list[tuple]:
    """Two swing highs near 105 (bars 4, 14), two swing lows near 100 (9, 19),
    then a climb to 104.3 ending at bar 23."""
    rows = leg(100.0, 104.0, 4)  # bars 0-3
    rows.append((104.0, 105.0, 103.8, 104.2, V))  # 4: swing high 105
    rows += leg(104.2, 100.4, 4)  # 5-8
    rows.append((100.4, 100.6, 100.0, 100.5, V))  # 9: swing low 100
    rows += leg(100.5, 104.3, 4)  # 10-13
    rows.append((104.3, 105.05, 104.1, 104.4, V))  # 14: swing high 105.05 -> 2nd touch
    rows += leg(104.4, 100.5, 4)  # 15-18
    rows.append((100.5, 100.7, 100.05, 100.6, V))  # 19: swing low 100.05 -> 2nd touch
    rows += leg(100.6, 104.3, 4)  # 20-23
    return rows


BREAK = (104.3, 107.2, 104.2, 107.0, 400.0)  # bar 24
AFTER = (107.0, 107.3, 106.0, 106.5, V)  # bar 25
RETEST = (106.5, 106.6, 105.1, 105.9, V)  # bar 26: low back at the level, close above


def at(sigs, bar: int):
    hits = [s for s in sigs if s.open_time == T0 + bar * MINUTE]
    return hits[0] if hits else None


def test_level_book_touches_strength_and_base():
    book = LevelBook(swing_window=3, tolerance=0.003, max_levels=8, retest_window=20)
    for j, (_o, h, lo, c, _v) in enumerate(range_rows()):
        book.update(T0 + j * MINUTE, h, lo, c)
    (res,) = book.res
    (sup,) = book.sup
    assert res[0] == pytest.approx((105.0 + 105.05) / 2) and res[2] == 2
    assert res[3] == T0 + 4 * MINUTE and res[4] == T0 + 14 * MINUTE
    assert sup[0] == pytest.approx((100.0 + 100.05) / 2) and sup[2] == 2
    from detectors.levels import level_features

    f = level_features(res)
    assert f["strength"] == 50.0 and f["level_type"] == "resistance"
    assert f["base_height"] == pytest.approx((res[0] - 100.0) / res[0])


def test_levels_detector_reports_second_touch():
    sigs = assert_stream_equals_batch(SupportResistance, frame(range_rows()))
    res = at(sigs, 17)  # swing high of bar 14 confirmed 3 bars later
    sup = at(sigs, 22)
    assert res.signal_type == "RESISTANCE_LEVEL" and res.features["touches"] == 2
    assert sup.signal_type == "SUPPORT_LEVEL" and sup.direction == "bullish"
    assert len(sigs) == 2


def test_breakout_with_volume_and_momentum():
    sigs = assert_stream_equals_batch(Breakout, frame(range_rows() + [BREAK]))
    s = at(sigs, 24)
    assert s is not None and s.signal_type == "BREAKOUT_UP" and s.direction == "bullish"
    assert s.features["touches"] == 2 and s.features["level_type"] == "resistance"
    assert s.features["volume_ratio"] == pytest.approx(4.0)
    assert s.features["momentum_atr"] > 0.5 and s.features["close_pos"] > 0.9
    assert 0 < s.score <= 100


@pytest.mark.parametrize("bar", [
    (104.3, 107.2, 104.2, 107.0, 120.0),  # volume only 1.2x average
    (104.3, 107.9, 104.2, 106.0, 400.0),  # closes mid-range: no momentum close
    (104.3, 105.3, 104.2, 105.2, 400.0),  # does not clear the level by the tolerance
])
def test_breakout_negative(bar):
    assert at(Breakout().run_batch(frame(range_rows() + [bar])), 24) is None


def test_breakdown_of_support():
    rows = range_rows()[:20] + leg(100.6, 101.0, 4)  # stays above the support, bars 20-23
    rows.append((101.0, 101.1, 98.4, 98.5, 500.0))  # 24: breaks 100 on volume
    s = at(Breakout().run_batch(frame(rows)), 24)
    assert s.signal_type == "BREAKOUT_DOWN" and s.direction == "bearish"
    assert s.features["level_type"] == "support"


def test_single_touch_level_is_not_a_breakout():
    rows = range_rows()
    assert at(Breakout(min_touches=3).run_batch(frame(rows + [BREAK])), 24) is None


def test_retest_of_broken_resistance():
    sigs = assert_stream_equals_batch(Retest, frame(range_rows() + [BREAK, AFTER, RETEST]))
    s = at(sigs, 26)
    assert s.signal_type == "RETEST_SUPPORT" and s.direction == "bullish"
    assert s.features["bars_since_break"] == 2 and s.features["broken_at"] == T0 + 24 * MINUTE
    assert len(sigs) == 1  # one retest per broken level


def test_retest_negative_failed_breakout_and_expiry():
    fail = (106.5, 106.6, 104.0, 104.2, V)  # closes back inside the range: failed breakout
    assert Retest().run_batch(frame(range_rows() + [BREAK, AFTER, fail, RETEST])) == []
    # retest too late (window of 1 bar)
    assert Retest(retest_window=1).run_batch(frame(range_rows() + [BREAK, AFTER, RETEST])) == []
    # price never comes back to the level
    assert Retest().run_batch(frame(range_rows() + [BREAK, AFTER, AFTER])) == []


@pytest.mark.parametrize("cls", [SupportResistance, Breakout, Retest])
@pytest.mark.parametrize("name", ["ftx_perp_1m", "unittest_1m", "xrp_eth_1m"])
def test_stream_equals_batch_on_real_candles(cls, name):
    assert assert_stream_equals_batch(cls, real(name))


EDGE_PARAMS = [
    # two levels per book: evictions and a full broken book all the time
    {"max_levels": 2, "retest_window": 3, "min_touches": 1},
    {"swing_window": 1, "tolerance": 0.0, "min_touches": 1},
    {"swing_window": 5, "tolerance": 0.01, "max_levels": 3, "min_touches": 3},
]


@pytest.mark.parametrize("cls", [SupportResistance, Breakout, Retest])
@pytest.mark.parametrize("params", EDGE_PARAMS, ids=["tiny_books", "k1_tol0", "k5_wide"])
def test_compiled_book_equals_streaming_book_with_edge_parameters(cls, params):
    """The batch path runs the compiled level book; every rule (evictions, the
    broken-book limit, zero tolerance, wide windows) must match the streaming book."""
    df = real("ftx_perp_1m").iloc[:6000].reset_index(drop=True)
    sigs = assert_stream_equals_batch(lambda: cls(**params), df)
    assert len(sigs) > 10


@pytest.mark.parametrize("cls", [Breakout, Retest])
def test_correction_and_checkpoint_are_exact(cls):
    df = real("ftx_perp_1m").iloc[:3000].reset_index(drop=True)
    full = comparable(stream(cls(), df))
    cut = 1777
    wrong = df.copy()
    wrong.loc[cut, ["high", "close"]] = [wrong.loc[cut, "high"] * 1.02, wrong.loc[cut, "high"] * 1.02]
    det = cls()
    out = [s for s in stream(det, wrong.iloc[:cut + 1]) if s.open_time != int(df.open_time[cut])]
    blob = det.get_state()
    other = cls()
    other.set_state(blob)
    out_a = out + stream(det, df.iloc[cut:])
    out_b = out + stream(other, df.iloc[cut:])
    assert comparable(out_a) == full == comparable(out_b)


def test_bounded_level_book():
    det = Breakout()
    stream(det, real("unittest_1m"))
    book = det._book
    assert len(book.res) <= 8 and len(book.sup) <= 8 and len(book.broken) <= 8


def test_params_validated_and_registered():
    with pytest.raises(ValueError, match="swing_window"):
        Breakout(swing_window=0)
    with pytest.raises(ValueError, match="close_pos_min"):
        Breakout(close_pos_min=0.2)
    for name, cls in (("levels", SupportResistance), ("breakout", Breakout), ("retest", Retest)):
        assert name in available()
        assert isinstance(create(name), cls)
