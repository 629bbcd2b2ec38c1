"""LakeTail reports each committed file once and never an orphan."""

from __future__ import annotations

import pytest

from sinks.base import SinkBatch, TopicPartition
from sinks.lake import LakeSink
from sinks.tail import LakeTail
from sinks.testing import messages, signals_for, write_lake

pytestmark = pytest.mark.unit


def test_tail_reports_new_committed_files_only(tmp_path, eth_candles, monkeypatch):
    sigs = signals_for(eth_candles[:30])
    write_lake(tmp_path, {"signals.volume_surge": sigs[:10]})
    tail = LakeTail(tmp_path, "signals")
    assert tail.poll() == []  # first look only records positions
    write_lake(tmp_path, {"signals.volume_surge": sigs[10:20], "md.candles.1m": eth_candles[:5]})
    write_lake(tmp_path, {"signals.volume_surge": sigs[20:25]})  # two flushes between polls
    got = tail.poll()
    assert [p.name for p in got] == ["part-signals.volume_surge-0-10.parquet", "part-signals.volume_surge-0-20.parquet"]
    assert tail.poll() == []

    # a crash leaves an orphan beyond the marker: never reported
    sink = LakeSink(tmp_path)
    tp = TopicPartition("signals.volume_surge", 0)
    sink.assign([tp])
    sink.write(SinkBatch.of(messages(tp.topic, sigs[25:], start_offset=25)))
    monkeypatch.setattr(sink, "_write_marker", lambda *a, **k: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        sink.flush()
    assert tail.poll() == []


def test_tail_from_start_reports_everything(tmp_path, eth_candles):
    write_lake(tmp_path, {"signals.volume_surge": signals_for(eth_candles[:3])})
    assert len(LakeTail(tmp_path, "signals", from_start=True).poll()) == 1
    with pytest.raises(KeyError, match="unknown lake dataset 'nope'"):
        LakeTail(tmp_path, "nope")
