"""Topic names, partition counts, keys and cleanup policies: the one place that
owns them. Everything else asks here (``signals_topic("volume_surge")``)."""

from __future__ import annotations

import re

import msgspec

DEFAULT_PARTITIONS = 8


class TopicSpec(msgspec.Struct, frozen=True):
    name: str
    partitions: int
    key: str
    cleanup_policy: str  # "delete" | "compact"
    content: str
    retention_ms: int | None = None


CANDLES_1M = "md.candles.1m"
CANDLES = "md.candles"
TICKS = "md.ticks"
QUOTES = "md.quotes"
FUNDING = "md.funding"
OPEN_INTEREST = "md.open_interest"
CONFLUENCE = "signals.confluence"
MARKET_STATE = "market.state"
SCREENER = "screener.candidates"
SUBSCRIPTIONS = "control.subscriptions"
DEADLETTER = "deadletter"
SIGNALS_PREFIX = "signals."
SIGNALS_PATTERN = r"^signals\..*"

_DETECTOR_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def signals_topic(detector: str) -> str:
    """Topic of one detector's signals: ``signals.<detector>``."""
    if not _DETECTOR_NAME.match(detector):
        raise ValueError(f"detector name {detector!r} is not a valid topic suffix ([a-z][a-z0-9_]*)")
    return SIGNALS_PREFIX + detector


def market_key(exchange: str, market: str, symbol: str) -> str:
    """Key of every per-symbol topic: ``exchange:market:symbol``."""
    return f"{exchange}:{market}:{symbol}"


def topic_specs(detectors: list[str] | None = None, partitions: int = DEFAULT_PARTITIONS) -> list[TopicSpec]:
    """Every topic scanflow uses. Per-symbol topics share a partition count so
    that a symbol's candles, state and signals are co-partitioned."""
    p = partitions
    specs = [
        TopicSpec(CANDLES_1M, p, "exchange:market:symbol", "delete", "closed 1m candles"),
        TopicSpec(CANDLES, p, "exchange:market:symbol", "delete", "closed candles of every timeframe"),
        TopicSpec(TICKS, p, "exchange:market:symbol", "delete", "trades"),
        TopicSpec(QUOTES, p, "exchange:market:symbol", "delete", "best bid/ask"),
        TopicSpec(FUNDING, p, "exchange:market:symbol", "delete", "funding rate and mark price"),
        TopicSpec(OPEN_INTEREST, p, "exchange:market:symbol", "delete", "open interest"),
        TopicSpec(CONFLUENCE, p, "exchange:market:symbol", "delete", "multi-timeframe agreement"),
        TopicSpec(MARKET_STATE, 1, "constant", "delete", "breadth and volatility regime"),
        TopicSpec(SCREENER, 1, "preset", "compact", "ranked candidates per preset"),
        TopicSpec(SUBSCRIPTIONS, 1, "exchange:market", "compact", "symbols each connector streams"),
        TopicSpec(DEADLETTER, 1, "source", "delete", "rejected input with the reason"),
    ]
    for det in detectors or ["volume_surge"]:
        specs.append(TopicSpec(signals_topic(det), p, "exchange:market:symbol", "delete", f"signals of {det}"))
    return specs
