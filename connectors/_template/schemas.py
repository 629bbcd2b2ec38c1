"""Exchange messages as frozen msgspec structs, with the EXCHANGE's field names
(not ours): decoding is then one msgspec call, and a reader can check each
field against the exchange's documentation."""

from __future__ import annotations

import msgspec


class TemplateEnvelope(msgspec.Struct, frozen=True):
    """Every frame: ``{"op": ..., "topic": ..., "data": ...}`` or a response ``{"op": "ack", "req": n}``."""

    op: str
    topic: str | None = None
    req: int | None = None
    ok: bool = True
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class TemplateKline(msgspec.Struct, frozen=True):
    symbol: str
    start: int
    end: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    turnover: str
    closed: bool
    ts: int


class TemplateTrade(msgspec.Struct, frozen=True):
    symbol: str
    id: int
    price: str
    size: str
    side: str  # "Buy" | "Sell" (taker)
    ts: int


class TemplateTicker(msgspec.Struct, frozen=True):
    symbol: str
    bid: str
    bidSize: str
    ask: str
    askSize: str
    ts: int
