"""Pure pieces of the framework: dedup, sharding, backoff, universe, registry."""

from __future__ import annotations

import random

import pytest

from connectors.backoff import Backoff
from connectors.dedup import CandleDedup, Seen
from connectors.registry import make_venue, venue_config, venue_names
from connectors.sharding import ShardPlan
from connectors.universe import UniverseRules, select_universe

pytestmark = pytest.mark.unit
M = 60_000


def test_dedup_once_per_open_time_in_any_order() -> None:
    d = CandleDedup(window_minutes=10)
    times = [5, 3, 4, 9, 1, 2, 9, 3, 7]
    seen = [d.add("k", t * M) for t in times]
    assert seen == [Seen.NEW, Seen.NEW, Seen.NEW, Seen.NEW, Seen.NEW, Seen.NEW, Seen.DUPLICATE, Seen.DUPLICATE, Seen.NEW]
    assert d.add("k", 8 * M) is Seen.NEW and d.add("k", 8 * M) is Seen.DUPLICATE
    assert d.add("other", 8 * M) is Seen.NEW  # keys are independent
    d.add("k", 30 * M)  # jump far ahead: the window slides
    assert d.add("k", 20 * M) is Seen.TOO_OLD
    assert d.add("k", 21 * M) is Seen.NEW and d.add("k", 29 * M) is Seen.NEW and d.add("k", 29 * M) is Seen.DUPLICATE


def test_dedup_memory_stays_bounded() -> None:
    d = CandleDedup(window_minutes=1440)
    for t in range(100_000):
        d.add("k", t * M)
    assert d._mask["k"].bit_length() <= 1440


def test_shard_plan_keeps_limits_and_symbols_together() -> None:
    plan = ShardPlan(lambda s: [f"{s}@a", f"{s}@b", f"{s}@c"], streams_per_connection=10)
    change = plan.update([f"S{i}" for i in range(7)])
    assert len(change.new_shards) == 3  # 3 symbols (9 streams) per connection
    assert all(sh.stream_count <= 10 for sh in plan.shards.values())
    where = {s: plan.shard_of(s) for s in plan.symbols}
    change = plan.update([f"S{i}" for i in range(1, 9)])  # drop S0, add S7 and S8
    assert change.removed_symbols == ["S0"] and change.added_symbols == ["S7", "S8"]
    assert change.unsubscribe == {where["S0"]: ["S0@a", "S0@b", "S0@c"]}
    assert all(plan.shard_of(s) == where[s] for s in where if s != "S0")  # nobody moved
    assert plan.shard_of("S7") == where["S0"]  # the freed room is reused
    assert all(sh.stream_count <= 10 for sh in plan.shards.values())
    shards_before = set(plan.shards)
    change = plan.update([])
    assert set(change.emptied_shards) == shards_before and not plan.shards


def test_shard_plan_rejects_symbol_larger_than_a_connection() -> None:
    plan = ShardPlan(lambda s: ["a", "b", "c"], streams_per_connection=2)
    with pytest.raises(ValueError, match="X: needs 3 streams"):
        plan.update(["X"])


def test_backoff_is_jittered_exponential_and_resets() -> None:
    b = Backoff(base_s=1.0, cap_s=8.0, floor_s=0.0, rng=random.Random(1))
    ceilings = [1, 2, 4, 8, 8, 8]
    delays = [b.next_delay() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)
    b.reset()
    assert b.next_delay() <= 1.0


def test_universe_ranks_by_quote_volume_with_rules() -> None:
    markets = {s: {"quote": s.split("/")[1]} for s in ("BTC/USDT", "ETH/USDT", "XRP/USDT", "DOGE/USDT", "ETH/BTC", "LUNA/USDT")}
    tickers = {"BTC/USDT": {"quoteVolume": 9e9}, "ETH/USDT": {"quoteVolume": 5e9}, "XRP/USDT": {"quoteVolume": 1e9},
               "DOGE/USDT": {"baseVolume": 1e9, "last": 0.1}, "ETH/BTC": {"quoteVolume": 1e12}, "LUNA/USDT": {"quoteVolume": 1e3}}
    rules = UniverseRules(top=2, quote="USDT", min_quote_volume=1e6, deny=frozenset({"BTC/USDT"}), allow=frozenset({"LUNA/USDT"}))
    assert select_universe(markets, tickers, rules) == ["LUNA/USDT", "ETH/USDT", "XRP/USDT"]
    assert select_universe(markets, tickers, UniverseRules(quote="USDT", min_quote_volume=2e8)) == ["BTC/USDT", "ETH/USDT", "XRP/USDT"]


def test_registry_and_url_overrides_from_environment() -> None:
    assert {"binance-spot", "binance-usdm"} <= set(venue_names())
    env = {"SCANFLOW_BINANCE_USDM_WS_URL": "ws://127.0.0.1:1", "SCANFLOW_BINANCE_USDM_REST_URL": "http://127.0.0.1:2"}
    cfg = venue_config("binance-usdm", env)
    assert (cfg.ws_url, cfg.rest_url) == ("ws://127.0.0.1:1", "http://127.0.0.1:2")
    assert venue_config("binance-spot", env).ws_url.startswith("wss://stream.binance.com")
    v = make_venue("binance-usdm", env)
    assert v.connect_url() == "ws://127.0.0.1:1/stream"
    ex = v.ccxt_exchange()
    assert ex.urls["api"]["fapiPublic"] == "http://127.0.0.1:2/fapi/v1"
    with pytest.raises(KeyError, match="unknown venue 'nope'"):
        make_venue("nope")
