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
    base = real_bars[:900]
    seq: list[Bar] = []
    for i, b in enumerate(base):
        seq.append(b)
        if i % 97 == 50:
            seq.append(b)  # at-least-once redelivery
        if i % 131 == 60:  # a corrected last bar, then the original again
            seq.append(msgspec.structs.replace(b, close=b.close * 1.001, high=max(b.high, b.close * 1.001)))
            seq.append(b)
        if i % 151 == 70 and i > 10:
            seq.append(base[i - 5])  # a late candle: ignored
    expected = one_by_one(seq)
    dset = registry.create_set()
    got = []
    for b in seq:
        got.extend(dset.update(candle(b)))
    assert by_detector(got) == expected


def test_set_checkpoint_through_members_resumes_exactly(real_bars: list[Bar]) -> None:
    first, rest = real_bars[:700], real_bars[700:1200]
    dset = registry.create_set()
    for b in first:
        dset.update(candle(b))
    blobs = {name: det.get_state() for name, det in dset.detectors.items()}
    restored = registry.create_set()
    for name, blob in blobs.items():
        restored.detectors[name].set_state(blob)
    assert restored.last_open_time == dset.last_open_time == first[-1].open_time
    a = [s for b in rest for s in dset.update(candle(b))]
    b_ = [s for b in rest for s in restored.update(candle(b))]
    assert comparable(a) == comparable(b_) and a


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
