"""The MEXC venues from the command line, as a user runs them, against the fake
(URLs from ``SCANFLOW_MEXC_*_URL``): ``scanflow backfill --exchange
mexc-futures`` writes the lake and resumes; ``scanflow connect mexc-spot
--top 2`` ranks the fake's markets, subscribes only the top two and puts
their closed candles on the broker, exactly once, then stops cleanly on
SIGINT."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from connectors.mexc import config
from streams import topics
from tests.connectors.fakes.exchange import MINUTE_MS
from tests.connectors.fakes.mexc import FakeMexc, in_base
from tests.connectors.test_binance_broker import read_candles
from tests.connectors.test_binance_connector import real_candles

DAY = 86_400_000


async def run_cli(args: list[str], env: dict[str, str], timeout: float = 120.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "scanflow.cli", *args, env=os.environ | env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.unit
@pytest.mark.timeout(240)
async def test_backfill_mexc_futures_writes_the_lake_and_resumes(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    day0 = now // DAY * DAY - DAY  # yesterday, UTC
    btc = real_candles(95)["BTCUSDT"]
    rows = [dataclasses.replace(r, open_time=day0 + 12 * 3_600_000 + i * MINUTE_MS) for i, r in enumerate(btc)]
    fake = FakeMexc("futures")
    await fake.start()
    try:
        native = fake.list_symbol("BTC", "USDT")
        fake.add_candles(native, rows)
        # The fake's clock stands still while the CLI runs; ahead of the wall clock, the
        # window it reports in progress stays in progress for the CLI too.
        fake.set_now(now + 10 * MINUTE_MS)
        env = {"SCANFLOW_MEXC_FUTURES_REST_URL": fake.rest_url}
        since = time.strftime("%Y-%m-%d", time.gmtime(day0 / 1000))
        args = ["backfill", "--exchange", "mexc-futures", "--symbols", "BTC/USDT", "--since", since,
                "--lake-dir", str(tmp_path)]
        rc, out, err = await run_cli(args, env)
        assert rc == 0, err
        assert "2 day(s) fetched, 0 already complete, 95 candles written" in out
        files = list((tmp_path / "candles" / "exchange=mexc" / "tf=1m").rglob("backfill-linear-BTC_USDT.parquet"))
        table = pq.read_table(next(f for f in files if since in str(f.parent))).to_pylist()
        assert [r["open_time"] for r in table] == [r.open_time for r in rows]
        # volume in base currency: the fake's contracts x contractSize
        assert [(r["open"], r["close"], r["volume"]) for r in table] == [(r.open, r.close, in_base(r.volume))
                                                                         for r in rows]
        assert {(r["exchange"], r["market"], r["provenance"]) for r in table} == {("mexc", "linear", "rest_backfill")}
        assert any(p.startswith("/api/v1/contract/kline/BTC_USDT") for p, _ in fake.rest_requests)

        rc, out, err = await run_cli(args, env)  # a second run skips the finished day
        assert rc == 0, err
        assert "1 day(s) fetched, 1 already complete" in out
    finally:
        await fake.stop()


@pytest.mark.timeout(240)
async def test_connect_mexc_spot_top_n_streams_to_the_broker(embedded_broker: str) -> None:
    tag = uuid.uuid4().hex[:6].upper()  # unique bases: the session broker is shared
    bases = {f"A{tag}": 3e6, f"B{tag}": 2e6, f"C{tag}": 1e6}
    series = real_candles(6)
    fake = FakeMexc("spot")
    await fake.start()
    proc: Any = None
    try:
        natives = [fake.list_symbol(b, "USDT", quote_volume_24h=qv) for b, qv in bases.items()]
        replay = dict(zip(natives[:2], series.values(), strict=True))
        fake.set_now(next(iter(replay.values()))[0].open_time)
        env = {"SCANFLOW_BOOTSTRAP_SERVERS": embedded_broker, "SCANFLOW_MEXC_WS_URL": fake.ws_url,
               "SCANFLOW_MEXC_REST_URL": fake.rest_url}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scanflow.cli", "connect", "mexc-spot", "--top", "2", "--quote", "USDT",
            "--audit-interval", "0", "--stats-interval", "5", env=os.environ | env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        top = [f"spot@public.kline.v3.api.pb@{n}@Min1" for n in natives[:2]]
        await fake.wait_until(lambda: all(fake.subscribers(s) for s in top), timeout=90)
        assert not any(natives[2] in s for c in fake.clients for s in c.streams)  # third by volume: not streamed
        for i in range(5):
            for native, rows in replay.items():
                await fake.play_minute(native, rows[i])
            await asyncio.sleep(0.05)
        last = next(iter(replay.values()))[4]
        await fake.send_trade(natives[0], last.close, last.close_time + 1 + config.KLINE_CLOSE_GRACE_MS + 1_000)
        keys = {topics.market_key("mexc", "spot", f"{b}/USDT").encode() for b in list(bases)[:2]}
        got = await read_candles(embedded_broker, keys, want=10, wait_s=60)
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            await proc.wait()
        await fake.stop()
    for native, rows in replay.items():
        mine = [c for c in got if c.symbol == f"{native[:-4]}/USDT"]
        assert [c.open_time for c in mine] == [r.open_time for r in rows[:5]], native
        assert [c.close for c in mine] == [r.close for r in rows[:5]]
        assert {c.provenance for c in mine} == {"inferred"}
