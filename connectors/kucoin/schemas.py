"""KuCoin websocket messages as frozen structs with KuCoin's own field names.

Every frame is ``{"type", "id"?, "topic"?, "subject"?, "data"?}``: ``type`` is
``welcome``, ``ack``, ``pong``, ``error`` or ``message`` (data). Spot times are
nanoseconds (``time`` of a match, of a candle push), futures times nanoseconds
(``ts``) or milliseconds (``time`` of a candle push, ``timestamp``).
"""

from __future__ import annotations

from typing import Any

import msgspec


class KucoinFrame(msgspec.Struct, frozen=True):
    type: str
    id: str | int | None = None
    topic: str | None = None
    subject: str | None = None
    code: int | str | None = None
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class KucoinCandles(msgspec.Struct, frozen=True):
    """``/market/candles:{symbol}_1min`` (spot, subject ``trade.candles.update``)
    and ``/contractMarket/limitCandle:{symbol}_1min`` (futures, ``candle.stick``).

    ``candles`` on spot: [start (s), open, close, high, low, volume (base),
    turnover (quote)]; on futures, as pushed live: [start (s), open, close,
    high, low, turnover (quote), volume (contracts)]. No close flag.
    """

    symbol: str
    candles: list[str]
    time: int


class KucoinSpotMatch(msgspec.Struct, frozen=True):
    """``/market/match:{symbol}`` (``trade.l3match``): ``side`` is the taker's, ``time`` ns as a string."""

    symbol: str
    side: str
    price: str
    size: str
    tradeId: str
    time: str
    sequence: str | None = None
    type: str = "match"


class KucoinSpotTicker(msgspec.Struct, frozen=True):
    """``/market/ticker:{symbol}`` (``trade.ticker``): best bid/ask; ``time`` ms
    (the documentation's example spells it ``Time``)."""

    bestBid: str
    bestBidSize: str
    bestAsk: str
    bestAskSize: str
    price: str | None = None
    size: str | None = None
    sequence: str | None = None
    time: int | None = None
    Time: int | None = None


class KucoinFuturesExecution(msgspec.Struct, frozen=True):
    """``/contractMarket/execution:{symbol}`` (``match``): ``size`` in contracts, ``ts`` ns."""

    symbol: str
    side: str
    size: float
    price: str
    tradeId: str
    ts: int
    sequence: int | None = None


class KucoinFuturesTickerV2(msgspec.Struct, frozen=True):
    """``/contractMarket/tickerV2:{symbol}`` (``tickerV2``): best bid/ask in contracts, ``ts`` ns."""

    symbol: str
    bestBidPrice: str
    bestBidSize: float
    bestAskPrice: str
    bestAskSize: float
    ts: int
    sequence: int | None = None


class KucoinInstrument(msgspec.Struct, frozen=True):
    """``/contract/instrument:{symbol}``: subject ``mark.index.price`` (markPrice,
    indexPrice) or ``funding.rate`` (fundingRate); ``timestamp`` ms."""

    timestamp: int
    granularity: int | None = None
    markPrice: float | None = None
    indexPrice: float | None = None
    fundingRate: float | None = None
    period: Any = None
