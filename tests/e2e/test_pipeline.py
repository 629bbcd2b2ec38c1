"""The whole pipeline on a real broker: replay -> md.candles.1m -> Faust worker ->
signals.volume_surge -> lake sink -> DuckDB -> API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import msgspec
import pytest

from connectors.files import read_candle_file
from connectors.replay import replay
from scanflow.brokers.base import free_port
from scanflow.brokers.embedded import EmbeddedBroker
from streams.kafka import create_topics, make_producer
from streams.records import DeadLetter
from streams.topics import topic_specs
from tests.e2e.pipeline import (
    Proc,
    env_for,
    expected_volume_surges,
    pipeline_settings,
    read_topic,
    signals_on_topic,
    wait_for,
)
from tests.market import market_file

REPLAY_FILE = "freqtrade/XRP_ETH-1m.feather"  # real Binance candles with 676 gaps and 963 flat bars
LONG_FILE = "nautilus_trader/btc-perp-20211231-20220201_1m.csv"  # 45k real 1m bars


@pytest.fixture
def fresh_embedded(tmp_path):
    """A broker of its own per test: topic names are fixed by the contract."""
    broker = EmbeddedBroker(tmp_path / "broker", free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def lake_signals(lake: Path, symbol: str):
    from sinks.catalog import query

    return query(lake, f"SELECT id, open_time FROM signals WHERE symbol = '{symbol}'")


def lake_signal_rows_raw(lake: Path):
    """Every signal row in the parquet files, without the view's deduplication."""
    import duckdb

    files = list((lake / "signals").rglob("*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    return con.execute("SELECT id FROM read_parquet(?, hive_partitioning=true, union_by_name=true)",
                       [[str(f) for f in files]]).fetchall()


def run_replay_end_to_end(bootstrap: str, tmp_path: Path) -> None:
    settings = pipeline_settings(bootstrap, tmp_path)
    asyncio.run(create_topics(bootstrap, topic_specs(["volume_surge"], settings.partitions)))
    path = market_file(REPLAY_FILE)
    expected = expected_volume_surges(read_candle_file(path))
    assert len(expected) > 20, "the fixture file should contain a fair number of surges"
    env = env_for(settings)
    procs = [Proc(n, [n], env, tmp_path).start() for n in ("worker", "sink", "api")]
    try:
        report = asyncio.run(replay(path, bootstrap, exchange="binance"))
        assert report.published == 2469 and report.deadlettered == 0
        symbol = report.plan.symbol
        # 1. on the topic: exactly the expected candles, each id once after dedup
        sigs = signals_on_topic(bootstrap, len(expected))
        by_id = {s.id: s for s in sigs}
        assert {s.open_time for s in by_id.values()} == expected
        assert all(s.symbol == "XRP/ETH" and s.exchange == "binance" and s.detector == "volume_surge" for s in sigs)
        # 2. in the lake, through DuckDB, with no duplicate id
        wait_for(lambda: len(lake_signals(settings.lake_dir, symbol)) >= len(expected), 90,
                 "signals in the lake", procs)
        df = lake_signals(settings.lake_dir, symbol)
        assert set(df["open_time"]) == expected
        assert df["id"].is_unique
        # 3. through the API
        base = f"http://127.0.0.1:{settings.api_port}"
        wait_for(lambda: _api_ok(base), 60, "the API", procs)
        r = httpx.get(f"{base}/api/v1/signals", params={"symbol": symbol, "limit": 10000}, timeout=10)
        assert r.status_code == 200, r.text
        got = _signal_list(r.json())
        assert {s["open_time"] for s in got} == expected
        assert len({s["id"] for s in got}) == len(got)
        r = httpx.get(f"{base}/api/v1/candles/binance/XRP-ETH", params={"tf": "1m", "limit": 5}, timeout=10)
        assert r.status_code == 200, r.text
    finally:
        for p in procs:
            p.stop()


def _api_ok(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _signal_list(body):
    if isinstance(body, dict):
        for key in ("signals", "items", "data", "rows"):
            if key in body:
                return body[key]
    return body


@pytest.mark.integration
def test_replay_end_to_end_on_embedded_broker(fresh_embedded, tmp_path):
    run_replay_end_to_end(fresh_embedded, tmp_path)


@pytest.mark.kafka
def test_replay_end_to_end_on_apache_kafka(kafka_broker, tmp_path):
    run_replay_end_to_end(kafka_broker, tmp_path)


@pytest.mark.integration
def test_worker_sigkill_mid_replay_loses_and_duplicates_nothing(fresh_embedded, tmp_path):
    bootstrap = fresh_embedded
    settings = pipeline_settings(bootstrap, tmp_path)
    asyncio.run(create_topics(bootstrap, topic_specs(["volume_surge"], settings.partitions)))
    path = market_file(LONG_FILE)
    expected = expected_volume_surges(read_candle_file(path))
    env = env_for(settings)
    worker = Proc("worker", ["worker"], env, tmp_path).start()
    sink = Proc("sink", ["sink"], env, tmp_path).start()
    restarted = None
    try:
        asyncio.run(replay(path, bootstrap, symbol="BTC-PERP", exchange="ftx", market="swap"))
        # kill the worker as soon as it has emitted some, but not all, signals
        partial = signals_on_topic(bootstrap, max(5, len(expected) // 10), timeout=120)
        worker.kill()
        assert len({s.id for s in partial}) < len(expected), "killed too late to prove anything"
        restarted = Proc("worker2", ["worker"], env, tmp_path).start()
        sigs = signals_on_topic(bootstrap, len(expected), timeout=180)
        assert {s.open_time for s in sigs} == expected, "a signal is missing or extra after the restart"
        wait_for(lambda: len(lake_signals(settings.lake_dir, "BTC-PERP")) >= len(expected), 120,
                 "every signal in the lake", [restarted, sink])
        ids = [row[0] for row in lake_signal_rows_raw(settings.lake_dir)]
        assert len(ids) == len(set(ids)) == len(expected), "the lake holds a duplicate signal id"
    finally:
        for p in (restarted, sink, worker):
            if p:
                p.stop()


@pytest.mark.integration
def test_malformed_candles_go_to_deadletter_and_the_worker_keeps_going(fresh_embedded, tmp_path):
    bootstrap = fresh_embedded
    settings = pipeline_settings(bootstrap, tmp_path)
    asyncio.run(create_topics(bootstrap, topic_specs(["volume_surge"], settings.partitions)))
    worker = Proc("worker", ["worker"], env_for(settings), tmp_path).start()
    bad = [b"{not json at all", b'{"exchange": "binance", "market": "spot"}',
           b'{"schema":1,"exchange":"binance","market":"spot","symbol":"BTC/USDT","tf":"1m","open_time":60000,'
           b'"close_time":119999,"open":-5.0,"high":1.0,"low":0.5,"close":0.7,"volume":1.0,'
           b'"event_time":119999,"received_at":120000}']

    async def publish_bad() -> None:
        producer = make_producer(bootstrap)
        await producer.start()
        try:
            for raw in bad:
                await producer.send_and_wait("md.candles.1m", raw, key=b"binance:spot:BTC/USDT")
        finally:
            await producer.stop()

    try:
        asyncio.run(publish_bad())
        path = market_file(REPLAY_FILE)
        expected = expected_volume_surges(read_candle_file(path))
        asyncio.run(replay(path, bootstrap, exchange="binance"))
        sigs = signals_on_topic(bootstrap, len(expected), timeout=120)
        assert {s.open_time for s in sigs} == expected, "the worker stopped after bad input"
        values = asyncio.run(read_topic(bootstrap, "deadletter", until=lambda v: len(v) >= 3, timeout=30))
        dls = [msgspec.json.decode(v, type=DeadLetter) for v in values]
        assert sorted(d.reason for d in dls) == ["malformed_json", "non_positive_price", "schema_mismatch"]
        assert all(d.source == "worker" and d.topic == "md.candles.1m" and d.offset is not None for d in dls)
        assert any(d.raw == "{not json at all" for d in dls)
    finally:
        worker.stop()
