"""Backfill over ccxt against the fake: lake files, resume after interruption,
--publish, and not-yet-closed candles left out."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq
import pytest

from connectors.backfill import Backfill, day_of
from connectors.base import CcxtRest, MemoryPublisher, VenueConfig
from connectors.binance import BinanceUsdmVenue
from streams import topics
from streams.records import Candle
from tests.connectors.fakes import shared_market_dir
from tests.connectors.fakes.binance import load_jesse_candles
from tests.connectors.fakes.exchange import MINUTE_MS

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]
DAY = 86_400_000


async def test_backfill_writes_lake_resumes_and_publishes(fake_binance: Any, tmp_path: Any) -> None:
    rows = load_jesse_candles(shared_market_dir() / "jesse" / "test_candles_0__test_candles_0.csv")  # a full real day, with gaps
    fake = await fake_binance("usdm")
    fake.list_symbol("BTC", "USDT")
    fake.add_candles("BTCUSDT", rows)
    day0 = rows[0].open_time // DAY * DAY
    fake.set_now(day0 + DAY + 90 * MINUTE_MS + 30_000)  # 01:30:30 on the next day
    more = [r for r in load_jesse_candles(shared_market_dir() / "jesse" / "test_candles_indicators__test_candles_btc.csv", 95)]
    nextday = [type(r)(day0 + DAY + i * MINUTE_MS, r.open, r.high, r.low, r.close, r.volume) for i, r in enumerate(more)]
    fake.add_candles("BTCUSDT", nextday)  # includes minutes after "now": the exchange must not have them yet

    venue = BinanceUsdmVenue(VenueConfig(fake.ws_url, fake.rest_url))
    rest = CcxtRest(venue)
    pub = MemoryPublisher()
    try:
        job = Backfill(venue, rest, tmp_path, publisher=pub, clock=fake.now_ms)
        report = await job.run(["BTC/USDT"], day0)
        assert report.units_done == 2 and report.units_skipped == 0
        f0 = job.file_for("BTC/USDT", day0)
        t0 = pq.read_table(f0).to_pylist()
        assert [r["open_time"] for r in t0] == [r.open_time for r in rows]  # exactly the exchange's candles
        assert t0[0]["close"] == rows[0].close and {r["provenance"] for r in t0} == {"rest_backfill"}
        assert f0.parent.name == f"date={day_of(day0)}" and "tf=1m" in str(f0)
        t1 = pq.read_table(job.file_for("BTC/USDT", day0 + DAY)).to_pylist()
        assert len(t1) == 90  # 00:00..01:29 closed; 01:30 is in progress
        published = pub.decoded(topics.CANDLES_1M, Candle)
        assert len(published) == len(rows) + 90
        assert report.requests >= 3  # paged by 1000

        # interrupted or not, a second run fetches only the unfinished day
        fake.set_now(day0 + DAY + 95 * MINUTE_MS)
        requests_before = len(fake.rest_requests)
        again = await Backfill(venue, rest, tmp_path, clock=fake.now_ms).run(["BTC/USDT"], day0)
        assert again.units_skipped == 1 and again.units_done == 1
        assert len(pq.read_table(job.file_for("BTC/USDT", day0 + DAY))) == 95
        assert all(int(q["startTime"]) >= day0 + DAY for p, q in fake.rest_requests[requests_before:] if p.endswith("klines"))
    finally:
        await rest.close()
