"""LakeSink: exact rows, layout, dead letters, duplicate signals, crash recovery."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from sinks.base import SinkBatch, SinkError, TopicPartition, sink_class
from sinks.lake import LakeSink, parse_data_file_name
from sinks.testing import messages, signals_for
from streams.records import Candle, DeadLetter, Signal, encode

pytestmark = pytest.mark.unit

C1M = TopicPartition("md.candles.1m", 0)
SIG = TopicPartition("signals.volume_surge", 3)


def read_dataset(lake: Path, name: str) -> list[dict]:
    rows: list[dict] = []
    for f in sorted((lake / name).rglob("*.parquet")):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def data_files(lake: Path, name: str) -> list[Path]:
    return sorted((lake / name).rglob("part-*.parquet"))


def candle_dict(c: Candle) -> dict:
    d = msgspec.structs.asdict(c)
    d.pop("schema")
    return d


def test_registry_names_the_lake_sink():
    assert sink_class("lake") is LakeSink
    with pytest.raises(KeyError, match="unknown sink 'nope'"):
        sink_class("nope")


def test_candle_batch_lands_exactly_with_layout_and_marker(tmp_path, eth_candles):
    candles = eth_candles[:3000]
    sink = LakeSink(tmp_path)
    assert sink.assign([C1M]) == {C1M: None}
    rejected = sink.write(SinkBatch.of(messages(C1M.topic, candles, start_offset=0)))
    assert rejected == []
    assert sink.flush() == {C1M: 3000}

    files = data_files(tmp_path, "candles")
    # 2018-01-20 04:53 + 3000 minutes spans three UTC days -> three date partitions
    rel = sorted(str(f.relative_to(tmp_path)) for f in files)
    assert rel == [
        f"candles/exchange=bittrex/tf=1m/date=2018-01-{d}/part-md.candles.1m-0-0.parquet" for d in (20, 21, 22)
    ]
    rows = read_dataset(tmp_path, "candles")
    assert len(rows) == 3000
    by_time = {r["open_time"]: r for r in rows}
    for c in candles:
        r = dict(by_time[c.open_time])
        assert (r.pop("_topic"), r.pop("_partition")) == ("md.candles.1m", 0)
        assert r.pop("_offset") == candles.index(c)
        assert r == candle_dict(c)
    marker = json.loads((tmp_path / "_progress" / "md.candles.1m-0.json").read_text())
    assert marker["last_offset"] == 2999 and marker["rows"] == 3000 and len(marker["files"]) == 3
    # nothing temporary is left behind
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_signals_keep_features_as_json_and_trade_plan_as_struct(tmp_path, eth_candles):
    sigs = signals_for(eth_candles[:40])
    sink = LakeSink(tmp_path)
    sink.assign([SIG])
    sink.write(SinkBatch.of(messages(SIG.topic, sigs, partition=3, start_offset=100)))
    assert sink.flush() == {SIG: 140}
    rows = {r["id"]: r for r in read_dataset(tmp_path, "signals")}
    assert len(rows) == 40
    s = sigs[7]
    r = rows[s.id]
    assert json.loads(r["features"]) == s.features
    assert r["trade_plan"] == msgspec.structs.asdict(s.trade_plan)
    assert (r["score"], r["price"], r["direction"], r["_offset"]) == (s.score, s.price, s.direction, 107)


def test_bad_records_become_dead_letters_with_reason_and_good_ones_still_land(tmp_path, eth_candles):
    good = eth_candles[:10]
    broken = msgspec.structs.replace(eth_candles[10], high=eth_candles[10].low / 2)  # high below low
    values: list = [*good[:5], b"{not json", None, encode(broken), *good[5:], b'{"exchange": "x"}']
    sink = LakeSink(tmp_path)
    sink.assign([C1M])
    letters = sink.write(SinkBatch.of(messages(C1M.topic, values, start_offset=50)))
    by_offset = {d.offset: d for d in letters}
    assert set(by_offset) == {55, 56, 57, 63}
    assert by_offset[55].reason == "malformed_json" and by_offset[55].raw == "{not json"
    assert by_offset[56].reason == "empty_value"
    assert by_offset[57].reason == "high_below_low"
    assert by_offset[63].reason == "schema_mismatch"
    assert all(d.topic == "md.candles.1m" and d.partition == 0 and "md.candles.1m[0]" in d.detail for d in letters)
    assert sink.flush() == {C1M: 64}
    rows = read_dataset(tmp_path, "candles")
    assert sorted(r["open_time"] for r in rows) == sorted(c.open_time for c in good)
    assert sorted(r["_offset"] for r in rows) == [50, 51, 52, 53, 54, 58, 59, 60, 61, 62]


def test_columnar_path_flags_rows_the_contract_rejects(tmp_path, eth_candles):
    """Every vectorized check agrees with validate_candle on a mixed batch."""
    c = eth_candles[0]
    bad = {
        "unknown_timeframe": msgspec.structs.replace(c, tf="7m"),
        "unknown_market": msgspec.structs.replace(c, market="moon"),
        "non_positive_price": msgspec.structs.replace(c, open=0.0, low=0.0),
        "negative_volume": msgspec.structs.replace(c, volume=-1.0),
        "unaligned_open_time": msgspec.structs.replace(c, open_time=c.open_time + 1, close_time=c.close_time + 1),
        "bad_close_time": msgspec.structs.replace(c, close_time=c.close_time + 5),
        "open_close_outside_range": msgspec.structs.replace(c, close=c.high * 2),
        "unknown_provenance": msgspec.structs.replace(c, provenance="guess"),
    }
    values = [*eth_candles[1:4], *bad.values()]
    sink = LakeSink(tmp_path)
    sink.assign([C1M])
    letters = sink.write(SinkBatch.of(messages(C1M.topic, values)))
    assert [d.reason for d in sorted(letters, key=lambda d: d.offset)] == list(bad)
    sink.flush()
    assert len(read_dataset(tmp_path, "candles")) == 3


def test_repeated_signal_ids_are_stored_once_within_and_across_flushes_and_restarts(tmp_path, eth_candles):
    sigs = signals_for(eth_candles[:30])
    sink = LakeSink(tmp_path)
    sink.assign([SIG])
    # the worker published the first ten twice in one batch
    sink.write(SinkBatch.of(messages(SIG.topic, sigs[:20] + sigs[:10], partition=3, start_offset=0)))
    sink.flush()
    # and again after a failover, in the next batch
    sink.write(SinkBatch.of(messages(SIG.topic, sigs[5:30], partition=3, start_offset=30)))
    sink.flush()
    assert sink.stats()["duplicates_dropped"] == 25
    # a restarted sink seeds its memory from the lake
    again = LakeSink(tmp_path)
    assert again.assign([SIG]) == {SIG: 55}
    assert again.stats()["seeded_ids"] == 30
    again.write(SinkBatch.of(messages(SIG.topic, sigs[::3], partition=3, start_offset=55)))
    again.flush()
    ids = [r["id"] for r in read_dataset(tmp_path, "signals")]
    assert sorted(ids) == sorted(s.id for s in sigs)


def test_recent_id_memory_is_bounded(tmp_path, eth_candles):
    sigs = signals_for(eth_candles[:50])
    sink = LakeSink(tmp_path, recent_ids=10)
    sink.assign([SIG])
    sink.write(SinkBatch.of(messages(SIG.topic, sigs, partition=3)))
    sink.flush()
    memory = sink._recent["signals"]
    assert 5 <= len(memory) <= 10
    assert all(s.id in memory for s in sigs[-5:])  # the newest are remembered
    assert sigs[0].id not in memory


class Crash(RuntimeError):
    pass


def test_crash_between_data_and_marker_leaves_no_duplicates(tmp_path, eth_candles, monkeypatch):
    candles = eth_candles[:600]
    sigs = signals_for(candles[::20])  # 30 signals
    first = LakeSink(tmp_path)
    first.assign([C1M, SIG])
    first.write(SinkBatch.of(messages(C1M.topic, candles[:300])))
    first.write(SinkBatch.of(messages(SIG.topic, sigs[:15], partition=3)))
    assert first.flush() == {C1M: 300, SIG: 15}

    # second flush: data files are written, then the process dies before the marker
    first.write(SinkBatch.of(messages(C1M.topic, candles[300:], start_offset=300)))
    first.write(SinkBatch.of(messages(SIG.topic, sigs[15:], partition=3, start_offset=15)))

    def die(*_a, **_k):
        raise Crash("killed between data write and marker write")

    monkeypatch.setattr(first, "_write_marker", die)
    with pytest.raises(Crash):
        first.flush()
    orphans = [f for f in data_files(tmp_path, "candles") if parse_data_file_name(f.name)[2] == 300]
    assert orphans, "the crash left orphan files (that is the scenario under test)"
    assert len(read_dataset(tmp_path, "candles")) == 600  # the raw lake now holds the orphans

    # restart: orphans go, reading resumes after the marker, the batch is replayed
    second = LakeSink(tmp_path)
    assert second.assign([C1M, SIG]) == {C1M: 300, SIG: 15}
    assert second.stats()["orphans_removed"] >= 2
    assert all(not f.exists() for f in orphans)
    assert len(read_dataset(tmp_path, "candles")) == 300
    second.write(SinkBatch.of(messages(C1M.topic, candles[300:], start_offset=300)))
    # the orphaned signals must not count as "already seen": they were never committed
    second.write(SinkBatch.of(messages(SIG.topic, sigs[15:], partition=3, start_offset=15)))
    assert second.flush() == {C1M: 600, SIG: 30}
    rows = read_dataset(tmp_path, "candles")
    assert sorted(r["_offset"] for r in rows) == list(range(600))
    assert sorted(r["id"] for r in read_dataset(tmp_path, "signals")) == sorted(s.id for s in sigs)


def test_files_without_any_marker_are_orphans_and_reading_restarts_from_the_beginning(tmp_path, eth_candles, monkeypatch):
    sink = LakeSink(tmp_path)
    sink.assign([C1M])
    sink.write(SinkBatch.of(messages(C1M.topic, eth_candles[:100])))
    monkeypatch.setattr(sink, "_write_marker", lambda *a, **k: (_ for _ in ()).throw(Crash("boom")))
    with pytest.raises(Crash):
        sink.flush()
    assert data_files(tmp_path, "candles")
    # a stale temporary file from an even earlier crash is cleaned too
    stale = tmp_path / "candles" / "exchange=bittrex" / "tf=1m" / "date=2018-01-20" / ".part-md.candles.1m-0-0.parquet.tmp"
    stale.write_bytes(b"partial")
    other = TopicPartition("md.candles.1m", 1)  # files of a partition not being assigned are left alone
    o = LakeSink(tmp_path)
    o.assign([other])
    o.write(SinkBatch.of(messages(other.topic, eth_candles[:5], partition=1)))
    o.flush()

    again = LakeSink(tmp_path)
    assert again.assign([C1M]) == {C1M: None}
    names = [f.name for f in data_files(tmp_path, "candles")]
    assert names == ["part-md.candles.1m-1-0.parquet"]
    assert not stale.exists()


def test_marker_is_respected_files_it_covers_stay(tmp_path, eth_candles):
    for start in (0, 100, 200):
        sink = LakeSink(tmp_path)
        pos = sink.assign([C1M])[C1M]
        assert pos == (start or None)
        sink.write(SinkBatch.of(messages(C1M.topic, eth_candles[start:start + 100], start_offset=start)))
        sink.flush()
    assert sorted({parse_data_file_name(f.name)[2] for f in data_files(tmp_path, "candles")}) == [0, 100, 200]
    assert len(read_dataset(tmp_path, "candles")) == 300


def test_garbage_on_the_deadletter_topic_is_kept_not_republished(tmp_path):
    tp = TopicPartition("deadletter", 0)
    good = DeadLetter(source="connector.binance", reason="malformed_json", detail="x", raw="{", topic="md.ticks",
                      partition=2, offset=9, received_at=1_700_000_000_000)
    sink = LakeSink(tmp_path)
    sink.assign([tp])
    assert sink.write(SinkBatch.of(messages("deadletter", [good, b"\xff\xfe not a dead letter"]))) == []
    sink.flush()
    rows = sorted(read_dataset(tmp_path, "deadletter"), key=lambda r: r["_offset"])
    assert [r["reason"] for r in rows] == ["malformed_json", "malformed_json"]
    assert rows[0]["source"] == "connector.binance"
    assert rows[1]["source"] == "sink.lake" and rows[1]["offset"] == 1 and "not a dead letter" in rows[1]["raw"]
    assert data_files(tmp_path, "deadletter")[0].parent.name == "date=2023-11-14"


def test_redelivered_offsets_are_skipped_and_unassigned_or_unknown_topics_are_errors(tmp_path, eth_candles):
    sink = LakeSink(tmp_path)
    sink.assign([C1M])
    sink.write(SinkBatch.of(messages(C1M.topic, eth_candles[:10], start_offset=10)))
    # a fetch from before a rebalance re-delivers 5..14 after 10..19 were buffered
    assert sink.write(SinkBatch.of(messages(C1M.topic, eth_candles[:10], start_offset=5))) == []
    sink.write(SinkBatch.of(messages(C1M.topic, eth_candles[10:20], start_offset=20)))
    assert sink.stats()["redelivered_skipped"] == 10
    assert sink.flush() == {C1M: 30}
    assert sorted(r["_offset"] for r in read_dataset(tmp_path, "candles")) == list(range(10, 30))
    with pytest.raises(SinkError, match=r"md\.candles\.1m\[1\].*not assigned"):
        sink.write(SinkBatch.of(messages(C1M.topic, eth_candles[:1], partition=1)))
    with pytest.raises(SinkError, match="'weird.topic' has no lake dataset"):
        sink.assign([TopicPartition("weird.topic", 0)])
    sink.write(SinkBatch.of(messages(C1M.topic, eth_candles[:1], start_offset=30)))
    with pytest.raises(SinkError, match="still buffered"):
        sink.close()


def test_topic_prefix_namespaces_topics(tmp_path, eth_candles):
    tp = TopicPartition("staging.md.candles", 2)
    sink = LakeSink(tmp_path, topic_prefix="staging.")
    sink.assign([tp])
    sink.write(SinkBatch.of(messages(tp.topic, eth_candles[:5], partition=2)))
    sink.flush()
    assert [f.name for f in data_files(tmp_path, "candles")] == ["part-staging.md.candles-2-0.parquet"]
    assert (tmp_path / "_progress" / "staging.md.candles-2.json").is_file()
    with pytest.raises(SinkError, match="lacks the sink's topic prefix"):
        sink.assign([TopicPartition("md.candles", 0)])


def test_signal_without_optional_fields_gets_contract_defaults(tmp_path, eth_candles):
    s = signals_for(eth_candles[:1], with_plan=False)[0]
    raw = msgspec.json.decode(encode(s))
    del raw["features"], raw["trade_plan"]
    sink = LakeSink(tmp_path)
    sink.assign([SIG])
    assert sink.write(SinkBatch.of(messages(SIG.topic, [msgspec.json.encode(raw)], partition=3))) == []
    sink.flush()
    (row,) = read_dataset(tmp_path, "signals")
    assert row["features"] == "{}" and row["trade_plan"] is None
    assert Signal(**{**raw, "features": {}}).id == row["id"]


def test_a_failed_flush_blocks_the_sink_until_assign_recovers_it_in_process(tmp_path, eth_candles, monkeypatch):
    sigs = signals_for(eth_candles[:10])
    sink = LakeSink(tmp_path)
    sink.assign([SIG])
    sink.write(SinkBatch.of(messages(SIG.topic, sigs, partition=3)))
    real = sink._write_marker
    monkeypatch.setattr(sink, "_write_marker", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        sink.flush()
    with pytest.raises(SinkError, match="earlier flush failed.*disk full"):
        sink.write(SinkBatch.of(messages(SIG.topic, sigs, partition=3, start_offset=10)))
    monkeypatch.setattr(sink, "_write_marker", real)
    assert sink.assign([SIG]) == {SIG: None}
    # the same process replays the batch: ids of the lost flush are not treated as seen
    sink.write(SinkBatch.of(messages(SIG.topic, sigs, partition=3)))
    sink.flush()
    assert sorted(r["id"] for r in read_dataset(tmp_path, "signals")) == sorted(s.id for s in sigs)
