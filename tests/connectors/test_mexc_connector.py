"""MEXC against the fake, beyond the venue contract (test_venue_contract.py):
ccxt's mexc client loads markets, tickers and klines from the fake, paced by
MEXC's weights; a quiet symbol's window is closed by the exchange clock (no
close flag, no next window); the JSON ping is answered and its pong consumed."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from connectors.base import CcxtRest, VenueConfig
from connectors.mexc import MexcFuturesVenue, MexcSpotVenue
from connectors.universe import UniverseRules, load_universe
from streams import topics
from tests.connectors.fakes.adapter import (
    adapter_for,
    candles_of,
    jesse_candles,
    play,
    stop_connector,
)
from tests.connectors.fakes.exchange import CandleRow
from tests.connectors.fakes.mexc import FakeMexc

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

VENUES = {"spot": MexcSpotVenue, "futures": MexcFuturesVenue}
ADAPTERS = {"spot": adapter_for("mexc-spot"), "futures": adapter_for("mexc-futures")}


def pace_at_a_tenth(rest: CcxtRest) -> None:
    """ccxt's throttle keeps pacing by MEXC's weights, at a tenth of its period per unit
    (exchangeInfo alone would wait 1.25 s)."""
    ex = rest.exchange
    ex.rateLimit = ex.rateLimit / 10
    ex.tokenBucket = None  # rebuilt from the new period
    ex.init_rest_rate_limiter()


def mexc_candles(fake: FakeMexc, n: int) -> dict[str, list[CandleRow]]:
    """Real BTC and SOL 1m candles, listed on the fake under MEXC's ids."""
    return {fake.list_symbol(base, "USDT"): rows for base, rows in jesse_candles(n).items()}


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_markets_tickers_and_rest_candles_through_ccxt(fakes: Any, market: str) -> None:
    """ccxt's mexc client, pointed at the fake: our market type only, ranked by
    24h quote volume, klines oldest first in REST units."""
    fake: FakeMexc = await fakes(FakeMexc, market)
    series = mexc_candles(fake, 5)
    native, rows = next(iter(series.items()))
    fake.list_symbol("DOGE", "USDT", quote_volume_24h=5e9)
    fake.list_symbol("ETH", "BTC", quote_volume_24h=9e9)
    fake.add_candles(native, rows)
    fake.set_now(rows[-1].close_time + 1)
    venue = VENUES[market](VenueConfig(fake.ws_url, fake.rest_url))
    rest = CcxtRest(venue)
    pace_at_a_tenth(rest)
    try:
        top = await load_universe(rest, UniverseRules(top=2, quote="USDT"))
        got = await rest.fetch_ohlcv("BTC/USDT", rows[1].open_time, 10)
    finally:
        await rest.close()
    assert top[0] == "DOGE/USDT" and len(top) == 2 and "ETH/BTC" not in top
    assert venue.native_id("DOGE/USDT") == ("DOGEUSDT" if market == "spot" else "DOGE_USDT")
    # closed candles oldest first, then (like the real endpoint) the one in progress
    assert [r[0] for r in got[:-1]] == [r.open_time for r in rows[1:]]
    assert got[-1][0] == rows[-1].close_time + 1 and got[-1][5] == 0
    assert got[0][1:6] == [rows[1].open, rows[1].high, rows[1].low, rows[1].close, ADAPTERS[market].volume(rows[1])]
    paths = {p for p, _ in fake.rest_requests}
    assert ("/api/v3/klines" in paths) == (market == "spot")
    assert any(p.startswith("/api/v1/contract/kline/") for p in paths) == (market == "futures")


async def test_quiet_symbol_is_closed_by_the_timer(fakes: Any) -> None:
    """SOL trades once and goes quiet; BTC's frames move the exchange clock past
    SOL's window end plus the grace, and SOL's window is published anyway."""
    fake: FakeMexc = await fakes(FakeMexc, "spot")
    series = mexc_candles(fake, 3)
    btc, sol = list(series)
    fake.set_now(series[btc][0].open_time)
    conn, pub = await ADAPTERS["spot"].start_connector(fake, ["BTC/USDT", "SOL/USDT"])
    try:
        await play(fake, series, range(0, 1))
        await play(fake, {btc: series[btc]}, range(1, 2))  # BTC's partial push at +30 s passes SOL's end + 3 s
        await pub.wait_for(lambda p: len(candles_of(p, "SOL/USDT")) == 1 and len(candles_of(p, "BTC/USDT")) == 1)
    finally:
        await stop_connector(conn)
    (c,) = candles_of(pub, "SOL/USDT")
    assert (c.open_time, c.close, c.provenance) == (series[sol][0].open_time, series[sol][0].close, "inferred")
    assert conn.venue.timer_closes == 1


@pytest.mark.parametrize("market", ["spot", "futures"])
async def test_app_ping_is_answered_and_consumed(fakes: Any, market: str) -> None:
    fake: FakeMexc = await fakes(FakeMexc, market)
    fake.list_symbol("BTC", "USDT")

    class _FastPing(VENUES[market]):  # type: ignore[misc,valid-type]
        app_ping_interval_s: ClassVar[float | None] = 0.1

    conn, pub = await ADAPTERS[market].start_connector(fake, ["BTC/USDT"], venue_cls=_FastPing)
    try:
        await fake.wait_until(lambda: fake.pings >= 3)
        await asyncio.sleep(0.05)
    finally:
        await stop_connector(conn)
    assert not pub.records[topics.DEADLETTER]  # PONGs are not "unexpected frames"
