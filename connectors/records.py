"""Records the connectors emit beyond ``streams.records``.

``md.funding`` and ``md.open_interest`` are in the topic table (DESIGN.md) but
``streams.records`` has no struct for them yet; they are defined here with the
same conventions (msgspec, ``schema`` field, integer UTC ms, float64) and can
move to ``streams.records`` unchanged. :class:`SubscribeAck` never leaves the
process: it tells a connection that the exchange acknowledged a request.
"""

from __future__ import annotations

import msgspec


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
    """Open interest of a derivative in contracts/base units (``md.open_interest``)."""

    schema: int = 1
    exchange: str
    market: str
    symbol: str
    open_interest: float
    open_interest_value: float | None = None
    event_time: int
    received_at: int


class SubscribeAck(msgspec.Struct, frozen=True):
    """The exchange acknowledged request ``id`` (in-process only)."""

    id: int | str | None
    ok: bool = True
    detail: str = ""
