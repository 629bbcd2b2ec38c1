"""The one place exchange structs become scanflow records (``parse_*_to_*``)."""

from __future__ import annotations

from connectors._template.schemas import TemplateKline, TemplateTicker, TemplateTrade
from streams.records import (
    Candle,
    Quote,
    RecordError,
    Tick,
    validate_candle,
    validate_quote,
    validate_tick,
)


def _f(text: str, field: str, symbol: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise RecordError("bad_number", f"{symbol}: {field}={text!r}", field=field) from None


def parse_kline_to_candle(k: TemplateKline, symbol: str, exchange: str, market: str, received_at: int) -> Candle:
    return validate_candle(Candle(
        exchange=exchange, market=market, symbol=symbol, tf="1m", open_time=k.start, close_time=k.end,
        open=_f(k.open, "open", symbol), high=_f(k.high, "high", symbol), low=_f(k.low, "low", symbol),
        close=_f(k.close, "close", symbol), volume=_f(k.volume, "volume", symbol),
        quote_volume=_f(k.turnover, "turnover", symbol), provenance="ws_final", event_time=k.ts,
        received_at=received_at))


def parse_trade_to_tick(t: TemplateTrade, symbol: str, exchange: str, market: str, received_at: int) -> Tick:
    return validate_tick(Tick(exchange=exchange, market=market, symbol=symbol, trade_id=str(t.id),
                              price=_f(t.price, "price", symbol), qty=_f(t.size, "size", symbol),
                              side=t.side.lower(), event_time=t.ts, received_at=received_at))


def parse_ticker_to_quote(t: TemplateTicker, symbol: str, exchange: str, market: str, received_at: int) -> Quote:
    return validate_quote(Quote(exchange=exchange, market=market, symbol=symbol, bid=_f(t.bid, "bid", symbol),
                                bid_qty=_f(t.bidSize, "bidSize", symbol), ask=_f(t.ask, "ask", symbol),
                                ask_qty=_f(t.askSize, "askSize", symbol), event_time=t.ts,
                                received_at=received_at))
