"""Gate.io v4 websocket messages as frozen structs with Gate's own field names.

Every server frame is ``{"time", "time_ms", "id"?, "channel", "event",
"error", "result"}``: ``event`` is ``update`` for data and echoes
``subscribe`` / ``unsubscribe`` for responses (``error`` null on success).
Spot pushes one object per ``result``; futures push a list of them for trades,
candlesticks and tickers. Numbers are decimal strings except where Gate sends
integers (futures sizes, millisecond times).
"""

from __future__ import annotations

import msgspec


class GateError(msgspec.Struct, frozen=True):
    code: int
    message: str = ""


class GateFrame(msgspec.Struct, frozen=True):
    """Anything the socket sends."""

    channel: str
    event: str = ""
    time: int | None = None
    time_ms: int | None = None
    id: int | None = None
    error: GateError | None = None
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class GateCandlestick(msgspec.Struct, frozen=True):
    """``spot.candlesticks`` / ``futures.candlesticks`` data point.

    ``t`` window start in SECONDS (a string on spot, an integer on futures);
    ``n`` is ``<interval>_<pair>``; ``w`` true when the window closed (Gate:
    "may be missing"). Spot: ``v`` quote volume, ``a`` base amount. Futures:
    ``v`` size in contracts, ``a`` traded amount.
    """

    t: str | int
    o: str
    h: str
    l: str  # noqa: E741 - Gate's field name
    c: str
    n: str
    v: str | int | None = None
    a: str | None = None
    w: bool = False


class GateSpotTrade(msgspec.Struct, frozen=True):
    """``spot.trades``: only the taker side; ``side`` is the taker's."""

    id: int
    create_time: int
    create_time_ms: str  # "1606292218213.4578": ms with a fraction
    side: str
    currency_pair: str
    amount: str
    price: str
    id_market: int | None = None
    range: str | None = None


class GateFuturesTrade(msgspec.Struct, frozen=True):
    """``futures.trades``: ``size`` > 0 taker bought, < 0 taker sold (contracts)."""

    id: int
    create_time: int
    create_time_ms: int
    contract: str
    size: float | str
    price: str
    is_internal: bool = False  # insurance-fund / ADL takeover: not a market trade


class GateBookTicker(msgspec.Struct, frozen=True):
    """``spot.book_ticker`` / ``futures.book_ticker``; sizes are strings on spot,
    integers (contracts) on futures; an empty price string means no level."""

    t: int
    u: int
    s: str
    b: str
    B: str | float
    a: str
    A: str | float


class GateFuturesTicker(msgspec.Struct, frozen=True):
    """``futures.tickers`` (mark/index price, funding rate, open interest as ``total_size``)."""

    contract: str
    last: str = ""
    mark_price: str = ""
    index_price: str = ""
    funding_rate: str = ""
    total_size: str = ""
    volume_24h_quote: str = ""
