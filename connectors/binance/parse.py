"""The one place Binance structs become scanflow records.

Every function takes the decoded struct, the unified symbol and the
identity (exchange, market) and returns a record; number conversion errors
become :class:`RecordError` with the field and the symbol named.
"""

from __future__ import annotations

from connectors.base.numbers import number as _num
from connectors.base.numbers import price as _price
from connectors.binance.schemas import (
    BinanceAggTrade,
    BinanceBookTicker,
    BinanceKline,
    BinanceMarkPrice,
    BinanceTrade,
)
from streams.records import Candle, FundingRate, Quote, RecordError, Tick, validate_candle


def parse_kline_to_candle(msg: BinanceKline, symbol: str, exchange: str, market: str, received_at: int) -> Candle:
    k = msg.k
    if k.i != "1m":
        raise RecordError("unexpected_interval", f"{symbol}: kline interval {k.i!r}, only 1m is streamed", field="i")
    candle = Candle(exchange=exchange, market=market, symbol=symbol, tf="1m", open_time=k.t, close_time=k.T,
                    open=_price(k.o, "o", symbol), high=_price(k.h, "h", symbol), low=_price(k.l, "l", symbol),
                    close=_price(k.c, "c", symbol), volume=_num(k.v, "v", symbol),
                    quote_volume=_num(k.q, "q", symbol), trades=k.n, provenance="ws_final",
                    event_time=msg.E, received_at=received_at)
    try:
        return validate_candle(candle)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol} 1m {k.t}: {exc.detail}", field=exc.field) from None


def parse_trade_to_tick(msg: BinanceTrade, symbol: str, exchange: str, market: str, received_at: int) -> Tick:
    price = _price(msg.p, "p", symbol)
    qty = _num(msg.q, "q", symbol)
    if qty < 0:
        raise RecordError("bad_quantity", f"{symbol}: q={msg.q!r}", field="q")
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=str(msg.t), price=price, qty=qty,
                side="sell" if msg.m else "buy", event_time=msg.T, received_at=received_at)


def parse_agg_trade_to_tick(msg: BinanceAggTrade, symbol: str, exchange: str, market: str, received_at: int) -> Tick:
    price = _price(msg.p, "p", symbol)
    qty = _num(msg.q, "q", symbol)
    if qty < 0:
        raise RecordError("bad_quantity", f"{symbol}: q={msg.q!r}", field="q")
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=str(msg.a), price=price, qty=qty,
                side="sell" if msg.m else "buy", event_time=msg.T, received_at=received_at)


def parse_book_ticker_to_quote(msg: BinanceBookTicker, symbol: str, exchange: str, market: str, received_at: int) -> Quote:
    bid = _price(msg.b, "b", symbol)
    ask = _price(msg.a, "a", symbol)
    if bid > ask:
        raise RecordError("crossed_quote", f"{symbol}: bid {bid} > ask {ask}", field="b")
    # Spot book tickers carry no event time: the receive time stands in.
    event_time = msg.E if msg.E is not None else received_at
    return Quote(exchange=exchange, market=market, symbol=symbol, bid=bid, bid_qty=_num(msg.B, "B", symbol),
                 ask=ask, ask_qty=_num(msg.A, "A", symbol), event_time=event_time, received_at=received_at)


def parse_mark_price_to_funding(msg: BinanceMarkPrice, symbol: str, exchange: str, market: str, received_at: int) -> FundingRate:
    return FundingRate(exchange=exchange, market=market, symbol=symbol, mark_price=_price(msg.p, "p", symbol),
                       index_price=_price(msg.i, "i", symbol) if msg.i else None,
                       funding_rate=_num(msg.r, "r", symbol) if msg.r != "" else None,
                       next_funding_time=msg.T or None, event_time=msg.E, received_at=received_at)
