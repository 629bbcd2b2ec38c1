"""The FastAPI service over a real lake: filters, ordering, 422s, 404, SSE, dashboard."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import msgspec
import pytest
from fastapi.testclient import TestClient

from api.app import create_app, parse_time
from scanflow.settings import Settings
from sinks.testing import signals_for, write_lake
from tests.sinks.lake_data import real_candles

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def market():
    eth = real_candles(600)
    xlm = real_candles(600, file="XLM_BTC-1m.json", symbol="XLM/BTC")
    sig_eth = signals_for(eth[::30], detector="volume_surge")  # 20
    sig_xlm = signals_for(xlm[::60], detector="momentum")  # 10
    return {"eth": eth, "xlm": xlm, "sig_eth": sig_eth, "sig_xlm": sig_xlm}


@pytest.fixture(scope="module")
def lake(tmp_path_factory, market):
    lake = tmp_path_factory.mktemp("lake")
    write_lake(lake, {"md.candles.1m": market["eth"] + market["xlm"],
                      "signals.volume_surge": market["sig_eth"], "signals.momentum": market["sig_xlm"]})
    return lake


@pytest.fixture(scope="module")
def client(lake):
    settings = Settings(lake_dir=lake, bootstrap_servers="127.0.0.1:1")
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_reports_lake_counts_and_broker(client, lake):
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["lake_dir"] == str(lake) and body["bootstrap"] == "127.0.0.1:1"
    assert body["rows"] == {"candles": 1200, "signals": 30, "deadletter": 0}
    assert body["version"]


def test_signals_newest_first_with_limit(client, market):
    everything = market["sig_eth"] + market["sig_xlm"]
    body = client.get("/api/v1/signals").json()
    assert body["count"] == 30
    times = [s["event_time"] for s in body["signals"]]
    assert times == sorted(times, reverse=True)
    assert {s["id"] for s in body["signals"]} == {s.id for s in everything}
    top = client.get("/api/v1/signals", params={"limit": 3}).json()["signals"]
    assert [s["id"] for s in top] == [s["id"] for s in body["signals"][:3]]
    one = next(s for s in body["signals"] if s["id"] == market["sig_eth"][4].id)
    expected = msgspec.to_builtins(market["sig_eth"][4])
    expected.pop("schema")
    assert {k: one[k] for k in expected} == expected  # features come back as an object, trade_plan as one


@pytest.mark.parametrize("params, expect", [
    ({"symbol": "XLM/BTC"}, lambda s: s.symbol == "XLM/BTC"),
    ({"symbol": "XLM-BTC"}, lambda s: s.symbol == "XLM/BTC"),
    ({"detector": "volume_surge"}, lambda s: s.detector == "volume_surge"),
    ({"direction": "bearish"}, lambda s: s.direction == "bearish"),
    ({"min_score": 60}, lambda s: s.score >= 60),
    ({"exchange": "bittrex", "tf": "1m", "direction": "bullish"}, lambda s: s.direction == "bullish"),
    ({"exchange": "binance"}, lambda s: False),
])
def test_signal_filters(client, market, params, expect):
    everything = market["sig_eth"] + market["sig_xlm"]
    got = {s["id"] for s in client.get("/api/v1/signals", params=params).json()["signals"]}
    assert got == {s.id for s in everything if expect(s)}


def test_parse_time_forms():
    assert parse_time(None, "since") is None
    assert parse_time("1516423980000", "since") == 1516423980000
    assert parse_time("2018-01-20", "since") == 1516406400000
    assert parse_time("2018-01-20T04:53:00+00:00", "since") == parse_time("2018-01-20T05:53:00+01:00", "since")


def test_signal_time_window_accepts_ms_and_iso(client, market):
    sigs = sorted(market["sig_eth"], key=lambda s: s.event_time)
    lo, hi = sigs[5].event_time, sigs[9].event_time
    as_iso = datetime.fromtimestamp(lo / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    for since in (str(lo), as_iso):
        got = client.get("/api/v1/signals", params={"since": since, "until": hi, "detector": "volume_surge"}).json()
        assert [s["id"] for s in got["signals"]] == [s.id for s in reversed(sigs[5:10])]


@pytest.mark.parametrize("path, params, needle", [
    ("/api/v1/signals", {"tf": "7m"}, "unknown timeframe '7m'"),
    ("/api/v1/signals", {"limit": 0}, "greater than or equal to 1"),
    ("/api/v1/signals", {"limit": 10001}, "less than or equal to 10000"),
    ("/api/v1/signals", {"since": "yesterday"}, "since: 'yesterday' is neither integer UTC milliseconds nor ISO-8601"),
    ("/api/v1/signals", {"since": "2024-01-01T00:00:00"}, "has no timezone"),
    ("/api/v1/signals", {"since": "2024-02-01", "until": "2024-01-01"}, "is before since"),
    ("/api/v1/signals", {"direction": "up"}, "direction: 'up' is not one of bearish, bullish, neutral"),
    ("/api/v1/signals", {"min_score": 101}, "less than or equal to 100"),
    ("/api/v1/candles/bittrex/ETH-BTC", {"tf": "2m"}, "unknown timeframe '2m'"),
    ("/api/v1/candles/bittrex/ETH-BTC", {"limit": 20000}, "less than or equal to 10000"),
    ("/api/v1/candles/bittrex/ETH-BTC", {"since": "2018-13-01"}, "is not a date"),
])
def test_bad_parameters_are_422_with_a_clear_message(client, path, params, needle):
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert needle in r.text


def test_candles_by_url_encoded_or_dashed_symbol(client, market):
    eth = market["eth"]
    a = client.get("/api/v1/candles/bittrex/ETH%2FBTC", params={"limit": 50})
    b = client.get("/api/v1/candles/bittrex/ETH-BTC", params={"limit": 50})
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    body = a.json()
    assert body["symbol"] == "ETH/BTC" and body["tf"] == "1m" and body["timeframes"] == ["1m"]
    assert [c["open_time"] for c in body["candles"]] == [c.open_time for c in eth[-50:]]  # latest 50, ascending
    c0 = body["candles"][0]
    assert (c0["open"], c0["high"], c0["low"], c0["close"], c0["volume"]) == (
        eth[-50].open, eth[-50].high, eth[-50].low, eth[-50].close, eth[-50].volume)
    since = client.get("/api/v1/candles/bittrex/ETH-BTC", params={"since": eth[100].open_time, "limit": 5}).json()
    assert [c["open_time"] for c in since["candles"]] == [c.open_time for c in eth[100:105]]
    other_tf = client.get("/api/v1/candles/bittrex/ETH-BTC", params={"tf": "1h"})
    assert other_tf.status_code == 200 and other_tf.json()["candles"] == []


def test_unknown_symbol_or_exchange_is_404_with_a_message(client):
    r = client.get("/api/v1/candles/bittrex/DOGE-BTC")
    assert r.status_code == 404 and r.json()["detail"] == "no candles for symbol 'DOGE/BTC' on exchange 'bittrex' in the lake"
    assert client.get("/api/v1/candles/binance/ETH-BTC").status_code == 404


def test_empty_lake_answers_without_errors(tmp_path):
    with TestClient(create_app(Settings(lake_dir=tmp_path / "nothing-yet"))) as c:
        assert c.get("/api/v1/health").json()["rows"] == {"candles": 0, "signals": 0, "deadletter": 0}
        assert c.get("/api/v1/signals").json() == {"count": 0, "signals": []}
        assert c.get("/api/v1/candles/binance/BTC-USDT").status_code == 404


def test_dashboard_is_a_self_contained_page(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "/api/v1/signals" in page and "<canvas" in page and "EventSource" in page
    assert "http://" not in page and "https://" not in page  # no CDN


def _events(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if fields.get("event") == "signal":
            out.append(json.loads(fields["data"]) | {"_sse_id": fields["id"]})
    return out


async def test_sse_streams_a_signal_committed_after_connecting(tmp_path):
    candles = real_candles(200)
    write_lake(tmp_path, {"signals.volume_surge": signals_for(candles[:5])})
    app = create_app(Settings(lake_dir=tmp_path))
    later = signals_for(candles[100:103])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        req = asyncio.create_task(c.get("/api/v1/signals/stream",
                                        params={"poll_ms": 50, "max_events": 2, "direction": later[0].direction}))
        await asyncio.sleep(0.5)  # the stream is open and has seen the existing five signals
        write_lake(tmp_path, {"signals.volume_surge": later})
        r = await asyncio.wait_for(req, 30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    wanted = [s for s in later if s.direction == later[0].direction]
    assert [e["id"] for e in events] == [s.id for s in wanted][:2]
    assert events[0]["_sse_id"] == events[0]["id"] and events[0]["features"] == wanted[0].features


async def test_sse_replays_since_then_ends_at_max_events(tmp_path):
    candles = real_candles(50)
    sigs = signals_for(candles[:6])
    write_lake(tmp_path, {"signals.volume_surge": sigs})
    app = create_app(Settings(lake_dir=tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        r = await asyncio.wait_for(c.get("/api/v1/signals/stream",
                                         params={"since": sigs[2].event_time, "max_events": 3}), 30)
    assert [e["id"] for e in _events(r.text)] == [s.id for s in sigs[2:5]]
