"""Bybit v5 public websocket messages as frozen structs with Bybit's own field
names (https://bybit-exchange.github.io/docs/v5/websocket/public/...).

Data frames are ``{"topic", "type", "ts", "data"}``; responses to requests are
``{"success", "ret_msg", "conn_id", "req_id", "op"}``. Prices and sizes are
decimal strings.
"""

from __future__ import annotations

import msgspec


class BybitFrame(msgspec.Struct, frozen=True):
    """Anything the public socket sends: a topic push or a request response."""

    topic: str | None = None
    type: str | None = None  # "snapshot" | "delta"
    ts: int | None = None
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: a response
    cts: int | None = None
    # responses (subscribe / unsubscribe / ping)
    success: bool | None = None
    ret_msg: str | None = None
    conn_id: str | None = None
    req_id: str | None = None
    op: str | None = None
    args: list[str] | None = None


class BybitKline(msgspec.Struct, frozen=True):
    """One entry of ``kline.{interval}.{symbol}`` ``data``."""

    start: int
    end: int
    interval: str
    open: str
    close: str
    high: str
    low: str
    volume: str
    turnover: str
    confirm: bool  # the candle closed
    timestamp: int


class BybitTrade(msgspec.Struct, frozen=True):
    """One entry of ``publicTrade.{symbol}`` ``data``."""

    T: int  # trade time
    s: str
    S: str  # taker side "Buy" | "Sell"
    v: str  # size
    p: str  # price
    i: str  # trade id (numeric on spot, a UUID on derivatives)
    BT: bool = False  # block trade
    L: str | None = None  # tick direction (derivatives)
    seq: int | None = None
    RPI: bool | None = None


class BybitOrderbook(msgspec.Struct, frozen=True):
    """``orderbook.1.{symbol}`` ``data``: level 1 book as [price, size] lists."""

    s: str
    b: list[list[str]]
    a: list[list[str]]
    u: int
    seq: int | None = None


class BybitTicker(msgspec.Struct, frozen=True):
    """``tickers.{symbol}`` ``data`` on linear: a snapshot, then deltas that
    carry only the fields that changed (hence every field optional)."""

    symbol: str
    markPrice: str | None = None
    indexPrice: str | None = None
    fundingRate: str | None = None
    nextFundingTime: str | None = None
    openInterest: str | None = None
    openInterestValue: str | None = None
    lastPrice: str | None = None
    bid1Price: str | None = None
    ask1Price: str | None = None
