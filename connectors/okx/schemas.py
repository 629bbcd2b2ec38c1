"""OKX v5 public websocket messages as frozen structs with OKX's own field
names (https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-...
and #public-data-websocket-...).

A push is ``{"arg": {"channel", "instId"}, "data": [...]}``; a response is
``{"event": "subscribe"|"unsubscribe"|"error"|"notice", "arg"?, "code"?, "msg"?,
"connId"?}``; the keepalive answer is the bare text ``pong``. Numbers,
timestamps included, are decimal strings.
"""

from __future__ import annotations

import msgspec


class OkxArg(msgspec.Struct, frozen=True):
    channel: str
    instId: str | None = None
    instType: str | None = None


class OkxFrame(msgspec.Struct, frozen=True):
    """Anything the socket sends as JSON: a channel push or an event response."""

    arg: OkxArg | None = None
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: an event
    action: str | None = None  # books channels only ("snapshot" | "update")
    event: str | None = None
    code: str | None = None
    msg: str | None = None
    connId: str | None = None


class OkxCandle(msgspec.Struct, frozen=True):
    """One row of ``candle1m`` ``data``: ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``
    (built from the row's first nine strings: OKX has appended fields before).

    ``vol`` is in base currency on SPOT and in contracts on SWAP; ``volCcy``
    is quote currency on SPOT and base currency on SWAP; ``volCcyQuote`` is
    quote currency on both. ``confirm`` is "1" once the candle closed."""

    ts: str  # opening time, ms
    o: str
    h: str
    l: str  # noqa: E741 - OKX's field name
    c: str
    vol: str
    volCcy: str
    volCcyQuote: str
    confirm: str


class OkxTrade(msgspec.Struct, frozen=True):
    """One entry of ``trades`` ``data`` (``sz`` in contracts on SWAP)."""

    instId: str
    tradeId: str
    px: str
    sz: str
    side: str  # taker side "buy" | "sell"
    ts: str
    count: str | None = None  # trades aggregated into this push (newer API versions)
    source: str | None = None
    seqId: int | None = None


class OkxTicker(msgspec.Struct, frozen=True):
    """One entry of ``tickers`` ``data`` (sizes in contracts on SWAP; "" when a side is empty)."""

    instType: str
    instId: str
    last: str
    askPx: str
    askSz: str
    bidPx: str
    bidSz: str
    ts: str
    lastSz: str | None = None
    open24h: str | None = None
    high24h: str | None = None
    low24h: str | None = None
    volCcy24h: str | None = None
    vol24h: str | None = None
    sodUtc0: str | None = None
    sodUtc8: str | None = None


class OkxFundingRate(msgspec.Struct, frozen=True):
    """One entry of ``funding-rate`` ``data`` (pushed every 30-90 s).

    ``fundingRate`` applies at the settlement ``fundingTime`` (the next one);
    ``nextFundingTime`` is the settlement after that."""

    instId: str
    instType: str
    fundingRate: str
    fundingTime: str
    ts: str
    nextFundingRate: str | None = None
    nextFundingTime: str | None = None
    method: str | None = None
    maxFundingRate: str | None = None
    minFundingRate: str | None = None
    premium: str | None = None
    settFundingRate: str | None = None
    settState: str | None = None


class OkxMarkPrice(msgspec.Struct, frozen=True):
    """One entry of ``mark-price`` ``data`` (every 200 ms on change, else every 10 s)."""

    instId: str
    instType: str
    markPx: str
    ts: str


class OkxOpenInterest(msgspec.Struct, frozen=True):
    """One entry of ``open-interest`` ``data``: ``oi`` in contracts, ``oiCcy`` in base currency."""

    instId: str
    instType: str
    oi: str
    oiCcy: str
    ts: str
    oiUsd: str | None = None
