"""``DetectorSet``: the worker's path (one front end for every detector of a
series) must give exactly what each detector gives on its own, in the normal
case and in every idempotency case of DESIGN.md."""

from __future__ import annotations

import msgspec
import pytest
from market_data import with_bad_rows
from test_contract import META, bars_of, candle, comparable, frame_for

from detectors import registry
from detectors.base import Bar

pytestmark = pytest.mark.unit

DETECTORS = registry.available()


def one_by_one(bars: list[Bar]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for name in DETECTORS:
        det = registry.create(name)
        sigs = []
        for b in bars:
            sigs.extend(det.update(candle(b)))
        out[name] = comparable(sigs)
    return out


def by_detector(signals: list) -> dict[str, list[bytes]]:  # type: ignore[type-arg]
    out: dict[str, list] = {name: [] for name in DETECTORS}  # type: ignore[type-arg]
    for s in signals:
        out[s.detector].append(s)
    return {name: comparable(sigs) for name, sigs in out.items()}


@pytest.fixture(scope="module")
def real_bars() -> list[Bar]:
    # real FTX candles with damaged rows (NaN, negative, zero prices) mixed in
    return bars_of(with_bad_rows(frame_for("ftx_btc_perp_1m", 1500)))


def test_set_equals_each_detector_alone_on_real_candles(real_bars: list[Bar]) -> None:
    expected = one_by_one(real_bars)
    dset = registry.create_set()
    got = []
    for b in real_bars:
        got.extend(dset.update(candle(b)))
    assert sum(len(v) for v in expected.values()) > 50, "the data should make the detectors speak"
    assert by_detector(got) == expected
    assert all(s.symbol == META["symbol"] and s.exchange == META["exchange"] for s in got)


def test_set_follows_the_idempotency_rules(real_bars: list[Bar]) -> None:
    """Redelivered, corrected and late candles inside a real stream: the set gives
    what each detector gives alone for the same sequence."""
    seq = idempotency_sequence(real_bars[:900])
    expected = one_by_one(seq)
    dset = registry.create_set()
    got = []
    for b in seq:
        got.extend(dset.update(candle(b)))
    assert by_detector(got) == expected


def test_members_bookkeeping_matches_a_detector_fed_alone(real_bars: list[Bar]) -> None:
    """The set keeps its members' last bar, last signals and raw history for them
    on the fast path; whoever reads a member sees what that detector alone has."""
    bars = real_bars[:400]
    dset = registry.create_set()
    for b in bars:
        dset.update(candle(b))
    for name, member in dset.detectors.items():
        alone = registry.create(name)
        for b in bars:
            alone.update(candle(b))
        assert member.last_open_time == alone.last_open_time == dset.last_open_time, name
        assert member._last_bar == alone._last_bar, name
        assert comparable(member._last_signals) == comparable(alone._last_signals), name
        assert list(member.history) == list(alone.history), name


def idempotency_sequence(base: list[Bar]) -> list[Bar]:
    """``base`` with redelivered, corrected and late candles mixed in."""
    seq: list[Bar] = []
    for i, b in enumerate(base):
        seq.append(b)
        if i % 97 == 50:
            seq.append(b)  # at-least-once redelivery
        if i % 131 == 60:  # a corrected last bar, then the original again
            seq.append(msgspec.structs.replace(b, close=b.close * 1.001, high=max(b.high, b.close * 1.001)))
            seq.append(b)
        if i % 89 == 30:  # a corrected last bar that stays (the stream goes on from it)
            c = b.close * 1.004
            seq.append(msgspec.structs.replace(b, close=c, high=max(b.high, c), volume=b.volume * 3.0))
        if i % 151 == 70 and i > 10:
            seq.append(base[i - 5])  # a late candle: ignored
    return seq


def test_members_with_the_same_per_bar_state_share_one_feed() -> None:
    dset = registry.create_set()
    dets = dset.detectors
    # one level book for the three level detectors, one scanner state for the four scanners
    assert len(dset._feeds) == 2
    assert dets["levels"]._book is dets["breakout"]._book is dets["retest"]._book
    scanners = ["mean_reversion", "candle_clustering", "momentum", "balanced_score"]
    assert len({id(dets[n]._state) for n in scanners}) == 1
    # alone, a detector keeps its own state
    assert registry.create("levels")._book is not registry.create("retest")._book
    # members whose parameters disagree on the state do not share it
    other = registry.create_set(["momentum", "balanced_score", "mean_reversion"],
                                {"momentum": {"volume_window": 30}})
    odets = other.detectors
    assert odets["balanced_score"]._state is odets["mean_reversion"]._state
    assert odets["momentum"]._state is not odets["balanced_score"]._state


def test_set_with_disagreeing_parameters_equals_members_alone(real_bars: list[Bar]) -> None:
    names = ["momentum", "balanced_score", "mean_reversion", "candle_clustering", "levels", "breakout"]
    params = {"momentum": {"volume_window": 30}, "breakout": {"tolerance": 0.004}}
    seq = idempotency_sequence(real_bars[:900])
    want: list = []  # type: ignore[type-arg]
    for name in names:
        det = registry.create(name, **params.get(name, {}))
        want.extend(s for b in seq for s in det.update(candle(b)))
    dset = registry.create_set(names, params)
    got = [s for b in seq for s in dset.update(candle(b))]
    assert sorted(comparable(got)) == sorted(comparable(want)) and got


@pytest.mark.parametrize("cut", [700, 731])
def test_set_checkpoint_resumes_exactly(real_bars: list[Bar], cut: int) -> None:
    """A set restored from its checkpoint continues exactly as the set that took
    it, redelivered and corrected candles right after the cut included (cut 731
    is not on a feed's snapshot boundary: the restored undo information is used)."""
    seq = idempotency_sequence(real_bars[:1200])
    first, rest = seq[:cut], seq[cut:]
    # the first candles after the restore: the last one again, then corrected, then the original
    last = first[-1]
    rest = [last, msgspec.structs.replace(last, close=last.close * 0.999, low=min(last.low, last.close * 0.999)),
            last, *rest]
    dset = registry.create_set()
    for b in first:
        dset.update(candle(b))
    restored = registry.create_set()
    assert restored.set_state(dset.get_state()) == []
    assert restored.last_open_time == dset.last_open_time == last.open_time
    a = [s for b in rest for s in dset.update(candle(b))]
    b_ = [s for b in rest for s in restored.update(candle(b))]
    assert comparable(a) == comparable(b_) and a
    # and both equal every detector alone over the whole sequence
    alone = one_by_one(first + rest)
    again = registry.create_set()
    cut_signals = by_detector([s for b in first for s in again.update(candle(b))])
    assert {name: cut_signals[name] + sigs for name, sigs in by_detector(b_).items()} == alone


def test_checkpoint_before_any_bar_restores_cleanly(real_bars: list[Bar]) -> None:
    dset = registry.create_set()
    dset.update(candle(Bar(real_bars[0].open_time, float("nan"), 1.0, 1.0, 1.0, 1.0)))  # missing data only
    restored = registry.create_set()
    assert restored.set_state(dset.get_state()) == [] and restored.last_open_time is None
    assert len(restored._feeds) == 2
    got = [s for b in real_bars[:600] for s in restored.update(candle(b))]
    assert comparable(got) == comparable([s for b in real_bars[:600] for s in dset.update(candle(b))]) and got


def test_unrestorable_shared_state_restarts_its_readers_fresh(real_bars: list[Bar]) -> None:
    dset = registry.create_set()
    for b in real_bars[:400]:
        dset.update(candle(b))
    data = msgspec.msgpack.decode(dset.get_state())
    level_tag = next(tag for tag in data["feeds"] if tag.startswith("LevelFeed"))
    data["feeds"][level_tag] = b"\x93\x01\x02\x03"
    del data["members"]["vsa"]  # a detector new in the configuration: fresh, not reported
    restored = registry.create_set()
    failed = restored.set_state(msgspec.msgpack.encode(data))
    assert sorted(name for name, _ in failed) == ["breakout", "levels", "retest"]
    dets = restored.detectors
    assert dets["levels"].last_open_time is None and dets["vsa"].last_open_time is None
    assert dets["momentum"].last_open_time == real_bars[399].open_time
    assert len(restored._feeds) == 1  # the level feed has no reader left
    # every member then behaves as the detector alone would from its state
    rest = real_bars[400:700]
    got = by_detector([s for b in rest for s in restored.update(candle(b))])
    fresh = one_by_one(rest)
    for name in ["levels", "breakout", "retest", "vsa"]:
        assert got[name] == fresh[name]
    cont = by_detector([s for b in rest for s in dset.update(candle(b))])
    for name in ["momentum", "balanced_score", "mean_reversion", "candle_clustering", "volume_surge"]:
        assert got[name] == cont[name]
    with pytest.raises(ValueError, match="not a detector set checkpoint"):
        registry.create_set().set_state(msgspec.msgpack.encode({"levels": b"x"}))


def test_set_batch_equals_members_batch() -> None:
    frame = frame_for("binance_xrp_eth_1m", None)
    dset = registry.create_set(["volume_surge", "vsa", "levels"])
    got = dset.run_batch(frame, exchange="binance", market="spot", symbol="XRP/ETH")
    want = []
    for name in ["volume_surge", "vsa", "levels"]:
        want.extend(registry.create(name).run_batch(frame, exchange="binance", market="spot", symbol="XRP/ETH"))
    assert comparable(got) == comparable(want) and got


def test_create_set_names_and_parameters() -> None:
    dset = registry.create_set(["volume_surge"], {"volume_surge": {"window": 30}})
    assert list(dset.detectors) == ["volume_surge"] and dset.detectors["volume_surge"].params.window == 30
    with pytest.raises(KeyError, match="unknown detector 'nope'"):
        registry.create_set(["nope"])
    with pytest.raises(ValueError, match="not in the set: vsa"):
        registry.create_set(["volume_surge"], {"vsa": {}})
    with pytest.raises(ValueError, match="bad parameters"):
        registry.create_set(["volume_surge"], {"volume_surge": {"window": "x"}})


def test_every_signal_id_is_the_documented_deterministic_id(real_bars: list[Bar]) -> None:
    """Batch (``signal_maker``) and streaming (``make_signal``) build the id the
    records module documents, so a consumer can recompute it from the fields; and
    it separates every detector, series and candle."""
    from detectors.records import signal_id

    frame = frame_for("ftx_btc_perp_1m", 3000)
    batched = registry.create_set().run_batch(frame, exchange="x", market="spot", symbol="A/B", tf="1m")
    streamed = []
    s = registry.create_set()
    for b in bars_of(frame):
        streamed.extend(s.update(candle(b)))
    assert len(batched) > 100 and len(streamed) > 100
    for sig in [*batched, *streamed]:
        assert sig.id == signal_id(sig.exchange, sig.market, sig.symbol, sig.tf, sig.detector, sig.open_time,
                                   sig.detector_version, sig.params_hash)
        assert sig.event_time == sig.open_time + 59_999
    assert len({sig.id for sig in batched}) == len(batched)
    other = registry.create_set().run_batch(frame, exchange="x", market="spot", symbol="A/C", tf="1m")
    assert not {sig.id for sig in other} & {sig.id for sig in batched}


def test_batch_runs_leave_no_collector_work_behind() -> None:
    """Signals are not tracked by the cyclic GC (``gc=False``): a batch run's
    hundreds of thousands of records cost the collector nothing afterwards."""
    import gc

    frame = frame_for("ftx_btc_perp_1m", 3000)
    sigs = registry.create_set().run_batch(frame)
    assert sigs and not any(gc.is_tracked(s) for s in sigs)
    assert gc.isenabled()
