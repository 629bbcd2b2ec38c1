"""The one place Bybit structs become scanflow records.

Every function takes the decoded struct, the unified symbol and the identity
(exchange, market) and returns a record; number errors become
:class:`RecordError` naming the field and the symbol.
"""

from __future__ import annotations

from connectors.base.numbers import number as _num
from connectors.base.numbers import price as _price
from connectors.bybit.schemas import BybitKline, BybitTrade
from streams.records import (
    Candle,
    FundingRate,
    OpenInterest,
    Quote,
    RecordError,
    Tick,
    validate_candle,
)


def size_is_zero(text: str, field: str, symbol: str) -> bool:
    """A book level of size 0 is a removal (Bybit deltas)."""
    return _num(text, field, symbol) == 0.0


def parse_kline_to_candle(k: BybitKline, symbol: str, exchange: str, market: str, received_at: int) -> Candle:
    if k.interval != "1":
        raise RecordError("unexpected_interval", f"{symbol}: kline interval {k.interval!r}, only 1 (1m) is streamed",
                          field="interval")
    candle = Candle(exchange=exchange, market=market, symbol=symbol, tf="1m", open_time=k.start, close_time=k.end,
                    open=_price(k.open, "open", symbol), high=_price(k.high, "high", symbol),
                    low=_price(k.low, "low", symbol), close=_price(k.close, "close", symbol),
                    volume=_num(k.volume, "volume", symbol), quote_volume=_num(k.turnover, "turnover", symbol),
                    provenance="ws_final", event_time=k.timestamp, received_at=received_at)
    try:
        return validate_candle(candle)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol} 1m {k.start}: {exc.detail}", field=exc.field) from None


def parse_trade_to_tick(t: BybitTrade, symbol: str, exchange: str, market: str, received_at: int) -> Tick:
    price = _price(t.p, "p", symbol)
    qty = _num(t.v, "v", symbol)
    if qty < 0:
        raise RecordError("bad_quantity", f"{symbol}: v={t.v!r}", field="v")
    side = {"Buy": "buy", "Sell": "sell"}.get(t.S)
    if side is None:
        raise RecordError("bad_side", f"{symbol}: S={t.S!r}", field="S")
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=t.i, price=price, qty=qty, side=side,
                event_time=t.T, received_at=received_at)


def parse_book_to_quote(bid: tuple[str, str], ask: tuple[str, str], symbol: str, exchange: str, market: str,
                        event_time: int, received_at: int) -> Quote:
    """Best bid/ask of the level 1 book (``orderbook.1``) as a Quote."""
    b = _price(bid[0], "b", symbol)
    a = _price(ask[0], "a", symbol)
    if b > a:
        raise RecordError("crossed_quote", f"{symbol}: bid {b} > ask {a}", field="b")
    return Quote(exchange=exchange, market=market, symbol=symbol, bid=b, bid_qty=_num(bid[1], "b", symbol),
                 ask=a, ask_qty=_num(ask[1], "a", symbol), event_time=event_time, received_at=received_at)


def parse_ticker_to_funding(fields: dict[str, str], symbol: str, exchange: str, market: str, event_time: int,
                            received_at: int) -> FundingRate:
    """Merged ``tickers`` fields (snapshot + deltas) as a FundingRate."""
    mark = fields["markPrice"]
    index = fields.get("indexPrice")
    rate = fields.get("fundingRate")
    nxt = fields.get("nextFundingTime")
    return FundingRate(exchange=exchange, market=market, symbol=symbol, mark_price=_price(mark, "markPrice", symbol),
                       index_price=_price(index, "indexPrice", symbol) if index else None,
                       funding_rate=_num(rate, "fundingRate", symbol) if rate else None,
                       next_funding_time=int(_num(nxt, "nextFundingTime", symbol)) if nxt and nxt != "0" else None,
                       event_time=event_time, received_at=received_at)


def parse_ticker_to_open_interest(fields: dict[str, str], symbol: str, exchange: str, market: str, event_time: int,
                                  received_at: int) -> OpenInterest:
    oi = _num(fields["openInterest"], "openInterest", symbol)
    if oi < 0:
        raise RecordError("bad_quantity", f"{symbol}: openInterest={fields['openInterest']!r}", field="openInterest")
    value = fields.get("openInterestValue")
    return OpenInterest(exchange=exchange, market=market, symbol=symbol, open_interest=oi,
                        open_interest_value=_num(value, "openInterestValue", symbol) if value else None,
                        event_time=event_time, received_at=received_at)
