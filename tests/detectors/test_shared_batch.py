"""Shared batch computations: in one ``DetectorSet.run_batch`` the scanner features
(mean volume, clustering, momentum, reversion, RSI) and the level book are computed
once per run for the parameters they depend on (``BarArrays.shared``) and reused by
every member asking for them with the same ones. A member whose parameters differ
must never read another member's result: a set gives exactly what each member gives
alone, whatever its members' parameters and order."""

from __future__ import annotations

from typing import Any

import pytest
from test_contract import META, bars_of, candle, comparable, frame_for

from detectors import registry
from detectors.base import SeriesMeta, frame_to_arrays

pytestmark = pytest.mark.unit

SCANNERS = ["balanced_score", "candle_clustering", "mean_reversion", "momentum"]
LEVELS = ["levels", "breakout", "retest"]


@pytest.fixture(scope="module")
def frame() -> Any:
    return frame_for("ftx_btc_perp_1m", 3000)


#: the series of the streamed candles (test_contract.candle)
SERIES = {k: v for k, v in META.items() if k != "tf"}


def alone(name: str, frame: Any, **params: Any) -> list[bytes]:
    return comparable(registry.create(name, **params).run_batch(frame, **SERIES))


def by_detector(signals: list[Any]) -> dict[str, list[bytes]]:
    out: dict[str, list[Any]] = {}
    for s in signals:
        out.setdefault(s.detector, []).append(s)
    return {name: comparable(sigs) for name, sigs in out.items()}


# (reference member run first with its defaults, member with one parameter changed,
# that parameter, its value): the reference computes the shared part with the
# defaults; the other must compute its own
DIFFERENT = [
    # clustering (read by candle_clustering, momentum, balanced_score)
    ("momentum", "candle_clustering", "volume_window", 12),
    ("momentum", "candle_clustering", "hv_mult", 1.6),
    ("momentum", "candle_clustering", "cluster_lookback", 30),
    ("momentum", "candle_clustering", "follow_bars", 2),
    ("momentum", "candle_clustering", "min_cluster_candles", 5),
    ("momentum", "candle_clustering", "trend_ratio", 0.6),
    ("momentum", "candle_clustering", "follow_through_min", 0.3),
    # momentum (momentum, balanced_score)
    ("balanced_score", "momentum", "change_bars", 3),
    ("balanced_score", "momentum", "score_scale", 5.0),
    # reversion and RSI (mean_reversion, balanced_score)
    ("balanced_score", "mean_reversion", "volume_window", 30),
    ("balanced_score", "mean_reversion", "rsi_period", 9),
    ("balanced_score", "mean_reversion", "streak_min", 3),
    ("balanced_score", "mean_reversion", "peak_lookback", 3),
    ("balanced_score", "mean_reversion", "gain_bars", 3),
    ("balanced_score", "mean_reversion", "volume_mult", 1.2),
    ("balanced_score", "mean_reversion", "volume_decline", 0.3),
    ("balanced_score", "mean_reversion", "gain_pct", 0.2),
    ("balanced_score", "mean_reversion", "rsi_overbought", 60.0),
    ("balanced_score", "mean_reversion", "rsi_oversold", 40.0),
    # the mean volume (every scanner, and breakout's volume confirmation)
    ("momentum", "breakout", "volume_window", 10),
    # the level book (levels, breakout, retest)
    ("levels", "breakout", "swing_window", 2),
    ("levels", "breakout", "tolerance", 0.002),
    ("levels", "retest", "max_levels", 2),
    ("levels", "retest", "retest_window", 5),
    ("levels", "retest", "min_touches", 3),
]


@pytest.mark.parametrize(("first", "name", "param", "value"), DIFFERENT,
                         ids=[f"{n}-{p}" for _, n, p, _ in DIFFERENT])
def test_members_with_different_parameters_do_not_share(frame: Any, first: str, name: str, param: str,
                                                        value: Any) -> None:
    changed = alone(name, frame, **{param: value})
    # the change matters on this data: reading the reference's result would show
    assert changed != alone(name, frame), f"{name}: {param}={value} changes nothing here; pick another value"
    for order in ([first, name], [name, first]):
        got = by_detector(registry.create_set(order, {name: {param: value}}).run_batch(frame, **SERIES))
        assert got.get(name, []) == changed, f"{name} with {param}={value} after {order[0]}"
        assert got.get(first, []) == alone(first, frame), f"{first} next to {name} with {param}={value}"


def test_a_set_of_mixed_parameters_equals_its_members_alone_and_its_stream(frame: Any) -> None:
    params: dict[str, dict[str, Any]] = {
        "candle_clustering": {"hv_mult": 1.8}, "momentum": {"change_bars": 3}, "mean_reversion": {"rsi_period": 10},
        "breakout": {"tolerance": 0.004}, "retest": {"min_touches": 3}}
    names = SCANNERS + LEVELS
    got = by_detector(registry.create_set(names, params).run_batch(frame, **SERIES))
    want = {name: alone(name, frame, **params.get(name, {})) for name in names}
    assert {name: got.get(name, []) for name in names} == want
    assert all(want.values()), "every member should signal on this data"
    stream = registry.create_set(names, params)
    streamed = by_detector([s for b in bars_of(frame) for s in stream.update(candle(b))])
    assert {name: streamed.get(name, []) for name in names} == want


def test_matching_members_compute_each_shared_part_once(frame: Any) -> None:
    """With matching parameters the set runs one scanner computation per part and
    one level book for all its members, and still equals each member alone."""
    names = SCANNERS + LEVELS
    bars = frame_to_arrays(frame)
    meta = SeriesMeta(**META)
    dset = registry.create_set(names)
    got = by_detector([s for det in dset.detectors.values() for s in det._run_arrays(bars, meta, 1)])
    assert {name: got.get(name, []) for name in names} == {name: alone(name, frame) for name in names}
    kinds = sorted(key[0] for key in bars.shared)
    assert kinds == ["atr", "level_book", "rsi", "scanner_cluster", "scanner_momentum", "scanner_reversion",
                     "trailing_mean"], kinds


def test_the_volume_mean_is_one_value_whoever_computes_it(frame: Any) -> None:
    """The scanner and level detectors and the VSA family store the trailing volume
    mean under one key: both computations must give the same bits, so a set gives
    what each member alone gives whichever member computes it first."""
    from detectors.features.scanner import trailing_volume_mean
    from detectors.features.trailing import shared_trailing_mean

    bars = frame_to_arrays(frame)
    for window in (2, 7, 20, 30):
        ours = trailing_volume_mean(bars.volume, window)
        theirs = shared_trailing_mean(frame_to_arrays(frame), "volume", window)
        assert ours.tobytes() == theirs.tobytes(), window
    names = ["volume_surge", "momentum", "breakout", "vsa"]
    for order in (names, names[::-1]):
        got = by_detector(registry.create_set(order).run_batch(frame, **SERIES))
        assert {n: got.get(n, []) for n in names} == {n: alone(n, frame) for n in names}, order
