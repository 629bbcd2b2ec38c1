"""run_sink against the embedded broker: candles, duplicate signals and a garbage
record go in; lake rows, one signal per id and a dead-letter row come out; a
restart resumes at the progress markers without duplicating anything."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from scanflow.settings import Settings
from sinks.catalog import LakeCatalog
from sinks.runner import default_pattern, run_sink
from sinks.testing import signals_for
from streams.kafka import create_topics, make_producer
from streams.records import encode
from streams.topics import TopicSpec

pytestmark = pytest.mark.timeout(180)


def test_default_pattern_selects_the_sink_topics():
    import re

    pat = re.compile(default_pattern())
    for t in ("md.candles.1m", "md.candles", "signals.volume_surge", "signals.confluence", "deadletter"):
        assert pat.match(t), t
    for t in ("md.ticks", "md.candles.5m", "signals.", "xmd.candles", "control.subscriptions"):
        assert not pat.match(t), t
    assert re.match(default_pattern("t1."), "t1.md.candles") and not re.match(default_pattern("t1."), "md.candles")


async def _produce(bootstrap: str, items: list[tuple[str, bytes | None, bytes]]) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for topic, key, value in items]
        for f in futures:
            await f
    finally:
        await producer.stop()


async def _wait_for(cat: LakeCatalog, sql: str, want: int, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    got = None
    while time.monotonic() < deadline:
        got = cat.rows(sql)[0]["n"]
        if got >= want:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{sql!r} gave {got}, wanted {want} within {within_s}s")


async def _run_until(settings: Settings, prefix: str, checks: list[tuple[str, int]], group: str = "sink"):
    stop = asyncio.Event()
    task = asyncio.create_task(run_sink(settings, stop_event=stop, topic_prefix=prefix, group_id=f"{prefix}{group}"))
    cat = LakeCatalog(settings.lake_dir)
    try:
        for sql, want in checks:
            wait = asyncio.create_task(_wait_for(cat, sql, want))
            done, _ = await asyncio.wait({wait, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                wait.cancel()
                task.result()  # raises the sink's error
                raise AssertionError("run_sink stopped on its own")
            wait.result()
    finally:
        stop.set()
        report = await asyncio.wait_for(task, 60)
        cat.close()
    return report


async def test_run_sink_lands_rows_dead_letters_and_resumes_exactly(embedded_broker, tmp_path, eth_candles):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    candles_topic, signals_topic = prefix + "md.candles.1m", prefix + "signals.volume_surge"
    await create_topics(embedded_broker, [
        TopicSpec(candles_topic, 2, "exchange:market:symbol", "delete", "test candles"),
        TopicSpec(signals_topic, 2, "exchange:market:symbol", "delete", "test signals"),
    ])
    candles = eth_candles[:400]
    sigs = signals_for(candles[::40])  # 10 signals
    items = [(candles_topic, c.key.encode(), encode(c)) for c in candles[:300]]
    items.append((candles_topic, b"bittrex:spot:ETH/BTC", b"garbage: not json {"))
    items += [(signals_topic, s.key.encode(), encode(s)) for s in sigs]
    items += [(signals_topic, s.key.encode(), encode(s)) for s in sigs[:4]]  # the worker published these twice
    await _produce(embedded_broker, items)

    lake = tmp_path / "lake"
    settings = Settings(bootstrap_servers=embedded_broker, lake_dir=lake, session_timeout_ms=6000,
                        sink_flush_ms=200, sink_batch_rows=10_000)
    report = await _run_until(settings, prefix, [
        ("SELECT count(*) AS n FROM candles_raw", 300),
        ("SELECT count(*) AS n FROM signals_raw", 10),
        ("SELECT count(*) AS n FROM deadletter_raw", 1),
    ])
    assert report.dead_letters_published == 1
    cat = LakeCatalog(lake)
    assert cat.rows("SELECT count(*) AS n FROM candles_raw") == [{"n": 300}]
    assert sorted(r["open_time"] for r in cat.rows("SELECT open_time FROM candles")) == [c.open_time for c in candles[:300]]
    assert sorted(r["id"] for r in cat.rows("SELECT id FROM signals_raw")) == sorted(s.id for s in sigs)
    (dl,) = cat.rows("SELECT * FROM deadletter_raw")
    assert dl["reason"] == "malformed_json" and dl["topic"] == candles_topic and dl["source"] == "sink.lake"
    assert dl["raw"] == "garbage: not json {" and dl["_topic"] == prefix + "deadletter"
    markers = sorted(p.name for p in (lake / "_progress").iterdir())
    assert f"{prefix}deadletter-0.json" in markers

    # restart with more input, under a brand-new consumer group (no committed offsets,
    # auto_offset_reset=earliest): the lake's markers decide, nothing is landed twice
    await _produce(embedded_broker, [(candles_topic, c.key.encode(), encode(c)) for c in candles[300:]]
                   + [(signals_topic, s.key.encode(), encode(s)) for s in sigs[5:]])
    await _run_until(settings, prefix, [("SELECT count(*) AS n FROM candles_raw", 400)], group="other-group")
    assert cat.rows("SELECT count(*) AS n FROM candles_raw") == [{"n": 400}]
    assert cat.rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM signals_raw") == [{"n": 10, "d": 10}]
    assert cat.rows("SELECT count(*) AS n FROM deadletter_raw") == [{"n": 1}]
    offsets = cat.rows("SELECT _topic, _partition, count(*) AS n, count(DISTINCT _offset) AS d "
                       "FROM candles_raw GROUP BY ALL")
    assert all(r["n"] == r["d"] for r in offsets)
    cat.close()


async def test_a_killed_sink_loses_nothing_and_duplicates_nothing(embedded_broker, tmp_path, eth_candles):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topic = prefix + "md.candles"
    await create_topics(embedded_broker, [TopicSpec(topic, 3, "exchange:market:symbol", "delete", "test")])
    candles = eth_candles[:900]
    await _produce(embedded_broker, [(topic, c.key.encode(), encode(c)) for c in candles[:600]])
    lake = tmp_path / "lake"
    # flush often so the kill lands between flushes with rows buffered
    settings = Settings(bootstrap_servers=embedded_broker, lake_dir=lake, session_timeout_ms=6000,
                        sink_flush_ms=50, sink_batch_rows=100)
    task = asyncio.create_task(run_sink(settings, topic_prefix=prefix, group_id=prefix + "sink"))
    cat = LakeCatalog(lake)
    await _wait_for(cat, "SELECT count(*) AS n FROM candles_raw", 1)
    task.cancel()  # no final flush, no commit of what was buffered
    with pytest.raises(asyncio.CancelledError):
        await task
    await _produce(embedded_broker, [(topic, c.key.encode(), encode(c)) for c in candles[600:]])
    await _run_until(settings, prefix, [("SELECT count(*) AS n FROM candles_raw", 900)])
    rows = cat.rows("SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d, "
                    "count(DISTINCT open_time) AS t FROM candles_raw")
    assert rows == [{"n": 900, "d": 900, "t": 900}]
    cat.close()
