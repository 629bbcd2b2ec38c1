"""The Kafka contract: every record that crosses a topic.

:class:`Candle` and :class:`Signal` are defined in ``detectors.records`` (so the
pure detector library can use them without Kafka) and re-exported here. All
records are msgspec Structs encoded as JSON with a ``schema`` version field.
Times are integer UTC milliseconds; prices and quantities float64.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from detectors.records import (
    CANDLE_SCHEMA,
    DIRECTIONS,
    MARKETS,
    PROVENANCES,
    SIGNAL_SCHEMA,
    Candle,
    RecordError,
    Signal,
    TradePlan,
    decode_candle,
    decode_signal,
    encode,
    params_hash,
    signal_id,
    strict_decoder,
    validate_candle,
    validate_signal,
)

__all__ = [
    "CANDLE_SCHEMA", "DIRECTIONS", "MARKETS", "PROVENANCES", "SIGNAL_SCHEMA",
    "Candle", "Signal", "TradePlan", "Tick", "Quote", "FundingRate", "OpenInterest", "Confluence", "MarketState",
    "Candidate", "Subscription", "DeadLetter", "RecordError", "RECORD_TYPES",
    "decode_candle", "decode_signal", "decode_tick", "decode_quote", "encode",
    "params_hash", "signal_id", "validate_candle", "validate_signal", "validate_tick",
    "validate_quote", "dead_letter",
]


class Tick(msgspec.Struct, kw_only=True, frozen=True):
    """One trade."""

    schema: int = 1
    exchange: str
    market: str
    symbol: str
    trade_id: str
    price: float
    qty: float  # base currency on every venue (futures contracts x contract size; docs/connectors.md "Units")
    side: str  # "buy" | "sell" (taker side) | "unknown"
    event_time: int
    received_at: int


class Quote(msgspec.Struct, kw_only=True, frozen=True):
    """Best bid and ask."""

    schema: int = 1
    exchange: str
    market: str
    symbol: str
    bid: float
    bid_qty: float  # base currency on every venue, like ask_qty (docs/connectors.md "Units")
    ask: float
    ask_qty: float
    event_time: int
    received_at: int


class FundingRate(msgspec.Struct, kw_only=True, frozen=True):
    """Mark price and funding of a perpetual (``md.funding``)."""

    schema: int = 1
    exchange: str
    market: str
    symbol: str
    mark_price: float
    index_price: float | None = None
    funding_rate: float | None = None
    next_funding_time: int | None = None
    event_time: int
    received_at: int


class OpenInterest(msgspec.Struct, kw_only=True, frozen=True):
    """Open interest of a derivative in base currency (``md.open_interest``)."""

    schema: int = 1
    exchange: str
    market: str
    symbol: str
    open_interest: float  # base currency on every venue (contracts x contract size)
    open_interest_value: float | None = None  # in quote currency (USD on OKX), when the venue sends it
    event_time: int
    received_at: int


class ConfluenceMember(msgspec.Struct, kw_only=True, frozen=True):
    tf: str
    detector: str
    signal_id: str
    direction: str
    score: float


class Confluence(msgspec.Struct, kw_only=True, frozen=True):
    """Multi-timeframe agreement; lists the closed higher-timeframe candles it used."""

    schema: int = 1
    id: str
    exchange: str
    market: str
    symbol: str
    event_time: int
    emitted_at: int
    direction: str
    score: float
    members: list[ConfluenceMember] = msgspec.field(default_factory=list)
    closed_candles: dict[str, int] = msgspec.field(default_factory=dict)  # tf -> open_time used


class MarketState(msgspec.Struct, kw_only=True, frozen=True):
    schema: int = 1
    event_time: int
    emitted_at: int
    symbols: int
    advancers: int
    decliners: int
    breadth: float
    volatility_regime: str
    active_signals: int


class Candidate(msgspec.Struct, kw_only=True, frozen=True):
    schema: int = 1
    preset: str
    event_time: int
    emitted_at: int
    ranked: list[dict[str, Any]] = msgspec.field(default_factory=list)


class Subscription(msgspec.Struct, kw_only=True, frozen=True):
    """Which symbols a connector streams, keyed by ``exchange:market`` (compacted)."""

    schema: int = 1
    exchange: str
    market: str
    symbols: list[str]
    updated_at: int


class DeadLetter(msgspec.Struct, kw_only=True, frozen=True):
    """Rejected input with the reason; the raw payload survives as text."""

    schema: int = 1
    source: str
    reason: str
    detail: str
    raw: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    received_at: int


RECORD_TYPES: dict[str, type[msgspec.Struct]] = {
    "Candle": Candle,
    "Signal": Signal,
    "TradePlan": TradePlan,
    "Tick": Tick,
    "Quote": Quote,
    "FundingRate": FundingRate,
    "OpenInterest": OpenInterest,
    "Confluence": Confluence,
    "MarketState": MarketState,
    "Candidate": Candidate,
    "Subscription": Subscription,
    "DeadLetter": DeadLetter,
}


def _positive(value: float, field: str) -> None:
    if math.isnan(value) or math.isinf(value):
        raise RecordError("non_finite_price", f"{field} is {value}", field=field)
    if value <= 0:
        raise RecordError("non_positive_price", f"{field} is {value}", field=field)


def _non_negative(value: float, field: str) -> None:
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise RecordError("bad_quantity", f"{field} is {value}", field=field)


def validate_tick(t: Tick) -> Tick:
    if t.market not in MARKETS:
        raise RecordError("unknown_market", f"market {t.market!r}", field="market")
    _positive(t.price, "price")
    _non_negative(t.qty, "qty")
    if t.side not in ("buy", "sell", "unknown"):
        raise RecordError("bad_side", f"side {t.side!r}", field="side")
    return t


def validate_quote(q: Quote) -> Quote:
    if q.market not in MARKETS:
        raise RecordError("unknown_market", f"market {q.market!r}", field="market")
    _positive(q.bid, "bid")
    _positive(q.ask, "ask")
    _non_negative(q.bid_qty, "bid_qty")
    _non_negative(q.ask_qty, "ask_qty")
    if q.bid > q.ask:
        raise RecordError("crossed_quote", f"bid {q.bid} > ask {q.ask}", field="bid")
    return q


decode_tick = strict_decoder(Tick, validate_tick)
decode_quote = strict_decoder(Quote, validate_quote)


def dead_letter(source: str, error: RecordError | str, raw: bytes | str, *, received_at: int,
                topic: str | None = None, partition: int | None = None,
                offset: int | None = None) -> DeadLetter:
    """A dead-letter record for ``raw`` rejected by ``source``."""
    if isinstance(error, RecordError):
        reason, detail = error.reason, error.detail
    else:
        reason, detail = "rejected", str(error)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    return DeadLetter(source=source, reason=reason, detail=detail, raw=text, topic=topic,
                      partition=partition, offset=offset, received_at=received_at)
