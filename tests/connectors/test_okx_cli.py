"""``scanflow backfill --exchange okx-spot`` and ``scanflow connect okx-swap --top N``
as real child processes, pointed at the fake OKX through the URL settings
(``SCANFLOW_OKX_REST_URL``, ``SCANFLOW_OKX_WS_URL``, ``SCANFLOW_OKX_BUSINESS_WS_URL``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from streams import topics
from streams.kafka import create_topics
from tests.connectors.fakes.okx import FakeOkx, load_lean_minute_bars
from tests.connectors.test_binance_broker import read_candles
from tests.connectors.test_okx_connector import real_candles
from tests.market import market_file

pytestmark = [pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    started: list[FakeOkx] = []

    async def make(inst_type: str) -> FakeOkx:
        f = FakeOkx(inst_type)
        await f.start()
        started.append(f)
        return f

    yield make
    for f in started:
        await f.stop()


def okx_env(f: FakeOkx, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANFLOW_")}
    return env | {"SCANFLOW_OKX_WS_URL": f.ws_url, "SCANFLOW_OKX_BUSINESS_WS_URL": f.business_ws_url,
                  "SCANFLOW_OKX_REST_URL": f.rest_url, "SCANFLOW_DATA_DIR": str(tmp_path / "data"),
                  "PYTHONPATH": str(ROOT)} | extra


async def scanflow(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "scanflow", *args, env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                start_new_session=True)


@pytest.mark.unit
async def test_backfill_command_writes_a_day_from_okx(fake: Any, tmp_path: Path) -> None:
    rows = load_lean_minute_bars(market_file("lean/Data/crypto/binance/minute/btcbusd/20221213_trade.zip"))
    f: FakeOkx = await fake("SPOT")
    f.list_symbol("BTC", "USDT")
    f.add_candles("BTC-USDT", rows)
    f.set_now(rows[-1].close_time + 1 + 3_600_000)
    proc = await scanflow("backfill", "--exchange", "okx-spot", "--symbols", "BTC/USDT", "--since", "2022-12-13",
                          "--until", "2022-12-14", "--lake-dir", str(tmp_path / "lake"),
                          env=okx_env(f, tmp_path), cwd=tmp_path)
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    (path,) = (tmp_path / "lake").rglob("*.parquet")
    assert "exchange=okx" in path.parts[-4] and path.parts[-2] == "date=2022-12-13" and "spot" in path.name
    table = pq.read_table(path).to_pylist()
    assert [r["open_time"] for r in table] == [r.open_time for r in rows]  # all 1,440 minutes, once
    assert [(r["open"], r["close"], r["volume"]) for r in table[::97]] == [(r.open, r.close, r.volume) for r in rows[::97]]
    calls = [q for p, q in f.rest_requests if p.endswith("candles")]
    assert calls and all(int(q["limit"]) <= 300 and q["instId"] == "BTC-USDT" for q in calls)


@pytest.mark.integration
async def test_connect_command_streams_the_top_swaps_to_the_broker(embedded_broker: str, fake: Any,
                                                                   tmp_path: Path) -> None:
    bootstrap = embedded_broker
    await create_topics(bootstrap, topics.topic_specs())
    tag = uuid.uuid4().hex[:6].upper()  # unique bases: the session broker is shared
    f: FakeOkx = await fake("SWAP")
    big, mid, small = f"A{tag}", f"B{tag}", f"C{tag}"
    f.list_symbol(big, "USDT", 3e8, ct_val=0.01)     # few contracts, most volume
    f.list_symbol(mid, "USDT", 2e8, ct_val=1000.0)   # many contracts
    f.list_symbol(small, "USDT", 1e8, ct_val=100.0)
    series = real_candles(3)
    f.set_now(series["BTC"][0].open_time)
    env = okx_env(f, tmp_path, SCANFLOW_BOOTSTRAP_SERVERS=bootstrap)
    proc = await scanflow("connect", "okx-swap", "--top", "2", "--no-follow-control", "--audit-interval", "0",
                          env=env, cwd=tmp_path)
    try:
        wanted = {f"{ch}:{b}-USDT-SWAP" for b in (big, mid)
                  for ch in ("candle1m", "trades", "tickers", "funding-rate", "mark-price", "open-interest")}
        await f.wait_until(lambda: wanted <= {s for c in f.clients for s in c.streams}, timeout=60)
        assert not any(s.endswith(f"{small}-USDT-SWAP") for c in f.clients for s in c.streams)
        for i in range(3):
            await f.play_minute(f"{big}-USDT-SWAP", series["BTC"][i])
            await f.play_minute(f"{mid}-USDT-SWAP", series["SOL"][i])
        keys = {topics.market_key("okx", "linear", f"{b}/USDT").encode() for b in (big, mid)}
        got = await read_candles(bootstrap, keys, 6)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    assert sorted((c.symbol, c.open_time) for c in got) == sorted(
        [(f"{big}/USDT", r.open_time) for r in series["BTC"]] + [(f"{mid}/USDT", r.open_time) for r in series["SOL"]])
    assert {(c.exchange, c.market, c.provenance) for c in got} == {("okx", "linear", "ws_final")}
    assert f.violations == [] and f.rejected_requests == []
