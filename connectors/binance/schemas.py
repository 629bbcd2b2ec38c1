"""Binance websocket messages as frozen structs with Binance's own field names.

Field meanings (from the Binance docs): ``e`` event type, ``E`` event time,
``s`` symbol, prices and quantities as decimal strings. Each payload struct has
one ``parse_to_*`` method in ``connectors.binance.parse``.
"""

from __future__ import annotations

from typing import Any

import msgspec


class BinanceFrame(msgspec.Struct, frozen=True):
    """Anything the combined-stream endpoint sends: a data frame
    ``{"stream", "data"}`` or a response ``{"result", "id"}`` / error."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: no data
    id: int | str | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    code: int | None = None
    msg: str | None = None


class BinanceKlineBar(msgspec.Struct, frozen=True):
    t: int  # kline start time
    T: int  # kline close time
    s: str
    i: str  # interval
    o: str
    c: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str  # base volume
    n: int  # number of trades
    x: bool  # is this kline closed?
    q: str  # quote volume
    f: int | None = None
    L: int | None = None


class BinanceKline(msgspec.Struct, frozen=True):
    e: str
    E: int
    s: str
    k: BinanceKlineBar


class BinanceTrade(msgspec.Struct, frozen=True):
    """``<symbol>@trade`` (spot; USDⓈ-M sends it too, with ``X`` the trade type)."""

    e: str
    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool  # buyer is the maker: the taker sold
    X: str | None = None


class BinanceAggTrade(msgspec.Struct, frozen=True):
    """``<symbol>@aggTrade``."""

    e: str
    E: int
    s: str
    a: int
    p: str
    q: str
    T: int
    m: bool
    f: int | None = None
    l: int | None = None  # noqa: E741 - Binance's field name


class BinanceBookTicker(msgspec.Struct, frozen=True):
    """``<symbol>@bookTicker``; spot frames carry no event time, futures carry ``E``/``T``."""

    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    e: str | None = None
    E: int | None = None
    T: int | None = None


class BinanceMarkPrice(msgspec.Struct, frozen=True):
    """``<symbol>@markPrice@1s`` (USDⓈ-M)."""

    e: str
    E: int
    s: str
    p: str  # mark price
    r: str  # funding rate
    T: int  # next funding time
    i: str | None = None  # index price
    P: str | None = None  # estimated settle price
