"""MEXC JSON messages as frozen structs with MEXC's own field names.

Spot data frames are protobuf (``connectors.mexc.proto``); only the spot
responses are JSON: ``{"id", "code", "msg"}`` for a (un)subscription (``msg``
echoes the channels, or says "Not Subscribed successfully! ...") and for a
PING (``msg`` "PONG").

Contract (USDT-M) frames are all JSON: ``{"channel", "data", "symbol"?,
"ts"?}``. ``channel`` is ``push.<x>`` for data, ``rs.sub.<x>`` /
``rs.unsub.<x>`` for responses (``data`` "success"), ``rs.error`` for a
refused request and ``pong`` (``data`` the server time) for a ping. Numbers
are JSON numbers; times are milliseconds except the kline window start ``t``
(seconds).
"""

from __future__ import annotations

import msgspec


class MexcSpotResponse(msgspec.Struct, frozen=True):
    """Spot JSON frame: a subscription response or the PING answer."""

    id: int | str | None = 0
    code: int = 0
    msg: str = ""


class MexcContractFrame(msgspec.Struct, frozen=True):
    """Anything the contract socket sends."""

    channel: str
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    symbol: str | None = None
    ts: int | None = None


class MexcContractKline(msgspec.Struct, frozen=True):
    """``push.kline`` (``sub.kline`` with ``interval`` Min1): the running window,
    pushed on every update, no close flag. ``t`` window start in SECONDS; ``q``
    volume in contracts, ``a`` amount in USDT; ``ro/rc/rh/rl`` (real prices)
    are not used."""

    interval: str
    t: int
    o: float
    c: float
    h: float
    l: float  # noqa: E741 - MEXC's field name
    q: float
    a: float
    symbol: str | None = None


class MexcContractDeal(msgspec.Struct, frozen=True):
    """One ``push.deal`` trade: ``p`` price, ``v`` contracts, ``T`` taker side
    (1 buy, 2 sell), ``O`` open/close, ``M`` self-trade, ``t`` ms; ``i`` the
    trade id (live frames; not in the documentation's example)."""

    p: float
    v: float
    T: int
    t: int
    O: int | None = None  # noqa: E741 - MEXC's field name
    M: int | None = None
    i: str | int | None = None


class MexcContractDepth(msgspec.Struct, frozen=True):
    """``push.depth.full`` (``sub.depth.full`` with ``limit`` 5): the best levels
    as ``[price, contracts, orders]``, best first."""

    asks: list[list[float]]
    bids: list[list[float]]
    version: int | None = None
    cts: int | None = None


class MexcContractTicker(msgspec.Struct, frozen=True):
    """``push.ticker`` (about once a second): ``fairPrice`` is the mark price,
    ``holdVol`` the open interest in contracts, ``timestamp`` ms."""

    symbol: str
    fairPrice: float
    timestamp: int
    indexPrice: float | None = None
    fundingRate: float | None = None
    holdVol: float | None = None
    lastPrice: float | None = None
    bid1: float | None = None
    ask1: float | None = None
    volume24: float | None = None
    amount24: float | None = None


class MexcContractFundingRate(msgspec.Struct, frozen=True):
    """``push.funding.rate``: ``rate`` and ``nextSettleTime`` (ms) of the next
    settlement. The documentation's example and live frames say ``rate``, its
    field table says ``fundingRate``: either is accepted."""

    rate: float | None = None
    fundingRate: float | None = None
    symbol: str | None = None
    nextSettleTime: int | None = None
