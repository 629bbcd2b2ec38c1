"""Trades seen twice — on both connections of a rotation overlap, or replayed after
a reconnect — reach md.ticks once, for venues with ordered trade ids (dropped by
id order) and for venues whose ids are opaque strings (dropped by a bounded
window of recent ids per symbol)."""

from __future__ import annotations

import pytest

from connectors.base import Connector, MemoryPublisher
from connectors.base.connector import RECENT_TRADE_IDS
from connectors.registry import make_venue
from streams import topics
from streams.records import Tick

pytestmark = pytest.mark.unit


def tick(venue_name: str, symbol: str, trade_id: str, t: int = 1_700_000_000_000) -> Tick:
    exchange, _, _ = venue_name.partition("-")
    return Tick(exchange=exchange, market="spot", symbol=symbol, trade_id=trade_id, price=1.0, qty=1.0,
                side="buy", event_time=t, received_at=t + 5)


def connector(venue_name: str) -> tuple[Connector, MemoryPublisher]:
    pub = MemoryPublisher()
    return Connector(make_venue(venue_name, environ={}), pub, rest=None, symbols=[]), pub  # type: ignore[arg-type]


def published_ids(pub: MemoryPublisher) -> list[str]:
    return [t.trade_id for t in pub.decoded(topics.TICKS, Tick)]


@pytest.mark.parametrize("venue_name", ["bybit-spot", "kucoin-spot", "mexc-spot"])
async def test_opaque_trade_ids_seen_twice_are_published_once(venue_name: str) -> None:
    conn, pub = connector(venue_name)
    assert not conn.venue.monotonic_trade_ids
    ids = ["f3a1-9", "0b2c-1", "f3a1-9", "77aa-4", "0b2c-1", "77aa-4", "c0de-2"]
    for i in ids:
        await conn._on_tick(tick(venue_name, "BTC/USDT", i))
    await conn._on_tick(tick(venue_name, "ETH/USDT", "f3a1-9"))  # per symbol: another symbol's id is new
    assert published_ids(pub) == ["f3a1-9", "0b2c-1", "77aa-4", "c0de-2", "f3a1-9"]
    assert conn.stats.stale_ticks_dropped == 3 and conn.stats.ticks == 5


async def test_the_recent_id_window_is_bounded() -> None:
    conn, pub = connector("bybit-spot")
    for i in range(RECENT_TRADE_IDS + 10):
        await conn._on_tick(tick("bybit-spot", "BTC/USDT", f"id-{i}"))
    st = conn._candles["BTC/USDT"]
    assert len(st.seen_ids) == RECENT_TRADE_IDS  # memory stays bounded
    await conn._on_tick(tick("bybit-spot", "BTC/USDT", f"id-{RECENT_TRADE_IDS + 9}"))  # recent: dropped
    await conn._on_tick(tick("bybit-spot", "BTC/USDT", "id-0"))  # long forgotten: a new trade
    assert published_ids(pub)[-1] == "id-0" and conn.stats.stale_ticks_dropped == 1


async def test_ordered_trade_ids_still_drop_anything_not_newer() -> None:
    conn, pub = connector("binance-spot")
    assert conn.venue.monotonic_trade_ids
    for i in ["10", "11", "11", "9", "12"]:
        await conn._on_tick(tick("binance-spot", "BTC/USDT", i))
    assert published_ids(pub) == ["10", "11", "12"] and conn.stats.stale_ticks_dropped == 2


async def test_mexc_deals_without_ids_identical_within_a_push_are_distinct_trades() -> None:
    """MEXC spot deals carry no id; two real deals can agree in every field. Within
    one push they are numbered (both published); the same push again (a rotation
    overlap) gives the same ids (dropped)."""
    from types import SimpleNamespace

    from connectors.mexc.parse import parse_spot_deals_to_ticks

    deal = SimpleNamespace(price="64000.1", quantity="0.002", tradeType=1, time=1_700_000_000_123, tradeId="")
    other = SimpleNamespace(price="64000.2", quantity="0.002", tradeType=2, time=1_700_000_000_124, tradeId="")
    push = SimpleNamespace(deals=[deal, deal, other, deal])
    ticks = parse_spot_deals_to_ticks(push, "BTC/USDT", "mexc", "spot", received_at=1_700_000_000_200)
    assert len({t.trade_id for t in ticks}) == 4
    conn, pub = connector("mexc-spot")
    for t in ticks + parse_spot_deals_to_ticks(push, "BTC/USDT", "mexc", "spot", received_at=1_700_000_000_300):
        await conn._on_tick(t)
    assert len(published_ids(pub)) == 4 and conn.stats.stale_ticks_dropped == 4
