"""DuckDB catalog: empty lake, dedup views, JSON features, query()."""

from __future__ import annotations

import duckdb
import msgspec
import pytest

from sinks.catalog import LakeCatalog, open_catalog, query
from sinks.testing import signals_for, write_lake
from streams.records import DeadLetter

pytestmark = pytest.mark.unit

VIEWS = ("candles", "signals", "confluence", "deadletter", "ticks", "quotes")


def test_every_view_answers_on_an_empty_or_missing_lake(tmp_path):
    for lake in (tmp_path, tmp_path / "does-not-exist"):
        con = open_catalog(lake)
        for v in VIEWS:
            assert con.execute(f"SELECT count(*) FROM {v}").fetchone() == (0,)
            assert con.execute(f"SELECT count(*) FROM {v}_raw").fetchone() == (0,)
        # typed columns, so filters and JSON functions bind even with zero rows
        assert con.execute("SELECT trade_plan.entry, features->>'$.ratio', date FROM signals "
                           "WHERE score > 1 AND date > DATE '2020-01-01'").fetchall() == []
        con.close()


def test_candles_view_keeps_latest_received_version(tmp_path, eth_candles):
    first = eth_candles[:100]
    # the same 20 candles again: a later correction with a new close, and a stale copy
    corrected = [msgspec.structs.replace(c, close=c.low, provenance="correction", received_at=c.received_at + 60_000)
                 for c in first[:20]]
    stale = [msgspec.structs.replace(c, close=c.high, received_at=c.received_at - 1) for c in first[20:40]]
    write_lake(tmp_path, {"md.candles.1m": first})
    write_lake(tmp_path, {"md.candles": corrected + stale})
    con = open_catalog(tmp_path)
    assert con.execute("SELECT count(*) FROM candles_raw").fetchone() == (140,)
    assert con.execute("SELECT count(*) FROM candles").fetchone() == (100,)
    rows = dict(con.execute("SELECT open_time, close FROM candles WHERE symbol = 'ETH/BTC'").fetchall())
    for c in corrected:
        assert rows[c.open_time] == c.low
    for c in first[20:40]:
        assert rows[c.open_time] == c.close  # the stale copy lost
    # hive columns are typed
    assert con.execute("SELECT DISTINCT typeof(date), typeof(tf), exchange FROM candles").fetchall() == [
        ("DATE", "VARCHAR", "bittrex")]


def test_signal_json_features_and_struct_trade_plan_are_queryable(tmp_path, eth_candles):
    sigs = signals_for(eth_candles[:10])
    write_lake(tmp_path, {"signals.volume_surge": sigs})
    got = query(tmp_path, "SELECT id, CAST(features->>'$.window' AS INTEGER) AS w, trade_plan.stop AS stop "
                          "FROM signals ORDER BY open_time").to_dict("records")
    assert [(g["id"], g["w"], g["stop"]) for g in got] == [(s.id, 20, s.trade_plan.stop) for s in sigs]


def test_deadletter_view_counts_a_republished_dead_letter_once(tmp_path):
    dl = DeadLetter(source="sink.lake", reason="malformed_json", detail="d", raw="{", topic="md.candles",
                    partition=1, offset=42, received_at=1_700_000_000_000)
    again = msgspec.structs.replace(dl, received_at=dl.received_at + 5)
    orphan = DeadLetter(source="connector.binance", reason="bad_frame", detail="d", raw="x", received_at=1_700_000_000_001)
    write_lake(tmp_path, {"deadletter": [dl, again, orphan, orphan]})
    con = open_catalog(tmp_path)
    assert con.execute("SELECT count(*) FROM deadletter_raw").fetchone() == (4,)
    assert sorted(con.execute("SELECT reason FROM deadletter").fetchall()) == [
        ("bad_frame",), ("bad_frame",), ("malformed_json",)]


def test_long_lived_catalog_sees_data_landing_after_it_opened(tmp_path, eth_candles):
    cat = LakeCatalog(tmp_path)
    assert cat.rows("SELECT count(*) AS n FROM signals") == [{"n": 0}]
    write_lake(tmp_path, {"signals.volume_surge": signals_for(eth_candles[:3])})
    assert cat.rows("SELECT count(*) AS n FROM signals") == [{"n": 3}]
    write_lake(tmp_path, {"signals.volume_surge": signals_for(eth_candles[3:5])})
    assert cat.query("SELECT count(*) AS n FROM signals").column("n").to_pylist() == [5]
    cat.close()


def test_query_returns_a_dataframe_even_when_empty(tmp_path):
    df = query(tmp_path, "SELECT symbol, close FROM candles")
    assert list(df.columns) == ["symbol", "close"] and len(df) == 0


def test_query_reports_duckdb_errors(tmp_path):
    with pytest.raises(duckdb.Error, match="no_such_column"):
        query(tmp_path, "SELECT no_such_column FROM candles")
