"""The worker's per-key detector state: checkpoints round-trip exactly, and a
checkpoint a detector cannot take (new layout, new parameters) starts that
detector fresh instead of stopping the worker."""

from __future__ import annotations

import logging

import msgspec
import pytest

from detectors.records import Candle
from streams.worker import SeriesState

pytestmark = pytest.mark.unit

NAMES = ["volume_surge", "futures_consensus", "vsa"]
#: members that share per-bar state in a set (a level book, a scanner state)
SHARING = ["levels", "breakout", "retest", "momentum", "balanced_score", "mean_reversion", "volume_surge"]


def candles(n: int, start: int = 0) -> list[Candle]:
    out = []
    for i in range(start, start + n):
        c = 100.0 + (i % 17) - (i % 5) * 0.7
        o = c - 0.3 if i % 3 else c + 0.4
        v = 10.0 + (i % 11) * 3 + (400.0 if i % 97 == 0 else 0.0)
        t = 1_700_000_040_000 + i * 60_000 - (1_700_000_040_000 % 60_000)
        out.append(Candle(exchange="binance", market="spot", symbol="BTC/USDT", tf="1m", open_time=t,
                          close_time=t + 59_999, open=o, high=max(o, c) + 0.5, low=min(o, c) - 0.5, close=c,
                          volume=v, event_time=t + 59_999, received_at=t + 60_000))
    return out


def run(st: SeriesState, cs: list[Candle]) -> list[bytes]:
    out = []
    for c in cs:
        for s in st.detectors_for("1m").update(c):
            out.append(msgspec.json.encode(msgspec.structs.replace(s, emitted_at=0)))
    return out


@pytest.mark.parametrize("names", [NAMES, SHARING])
def test_checkpoint_round_trip_resumes_exactly(names: list[str]) -> None:
    first, rest = candles(400), candles(400, 400)
    st = SeriesState(names)
    run(st, first)
    restored = SeriesState.load(names, st.dump(), b"binance:spot:BTC/USDT")
    assert restored.fresh == []
    # a corrected last bar right after the restore, then the stream goes on
    last = first[-1]
    rest = [msgspec.structs.replace(last, close=last.close + 0.2, high=last.high + 0.2), *rest]
    want, got = run(st, rest), run(restored, rest)
    assert want and got == want


def test_checkpoint_of_the_older_format_starts_fresh(caplog: pytest.LogCaptureFixture) -> None:
    st = SeriesState(NAMES)
    run(st, candles(50))
    old = msgspec.msgpack.encode({"1m": {name: det.get_state() for name, det in st.by_tf["1m"].detectors.items()}})
    with caplog.at_level(logging.WARNING, logger="scanflow.worker"):
        restored = SeriesState.load(NAMES, old, b"binance:spot:BTC/USDT")
    assert restored.fresh == NAMES and "older format" in caplog.text
    assert restored.detectors_for("1m").last_open_time is None
    assert run(restored, candles(300)) == run(SeriesState(NAMES), candles(300))


def test_unrestorable_checkpoint_starts_that_detector_fresh(caplog: pytest.LogCaptureFixture) -> None:
    st = SeriesState(NAMES)
    run(st, candles(300))
    data = msgspec.msgpack.decode(st.dump())
    tf_data = msgspec.msgpack.decode(data["1m"])
    tf_data["members"]["futures_consensus"] = b"\x93\x01\x02\x03"  # not this detector's layout
    data["1m"] = msgspec.msgpack.encode(tf_data)
    with caplog.at_level(logging.WARNING, logger="scanflow.worker"):
        restored = SeriesState.load(NAMES, msgspec.msgpack.encode(data), b"binance:spot:BTC/USDT")
    assert restored.fresh == ["futures_consensus"]
    assert "futures_consensus: checkpoint not restorable" in caplog.text
    dset = restored.detectors_for("1m")
    assert dset.detectors["futures_consensus"].last_open_time is None
    assert dset.detectors["volume_surge"].last_open_time == candles(300)[-1].open_time
    # the set still runs every detector; the fresh one warms up again
    sigs = [s for c in candles(200, 300) for s in dset.update(c)]
    assert {"volume_surge"} <= {s.detector for s in sigs}
    assert dset.detectors["futures_consensus"].last_open_time == candles(200, 300)[-1].open_time
