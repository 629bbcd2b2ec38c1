"""The one place Gate.io structs become scanflow records.

Conversion errors name the field and the symbol (:class:`RecordError`).
Sizes are in base currency everywhere (``connectors.base.units``): spot
volume is the base amount (``a``); futures sizes arrive in contracts (candle
``v``, trade ``size``, book ``B``/``A``, open interest ``total_size``) and are
multiplied by the contract's ``quanto_multiplier`` (ccxt's ``contractSize``)
with :func:`base_units`, the function the REST candles go through too, so
websocket and REST candles agree exactly.
"""

from __future__ import annotations

from connectors.base.numbers import number as _num
from connectors.base.numbers import price as _price
from connectors.base.units import base_units
from connectors.gateio.schemas import (
    GateBookTicker,
    GateCandlestick,
    GateFuturesTicker,
    GateFuturesTrade,
    GateSpotTrade,
)
from detectors.timeframes import MINUTE_MS
from streams.records import (
    Candle,
    FundingRate,
    OpenInterest,
    Quote,
    RecordError,
    Tick,
    validate_candle,
)


def _open_time(k: GateCandlestick, symbol: str) -> int:
    try:
        seconds = int(k.t)
    except ValueError:
        raise RecordError("bad_number", f"{symbol}: field t={k.t!r} is not unix seconds", field="t") from None
    return seconds * 1000


def parse_candlestick_to_candle(k: GateCandlestick, symbol: str, exchange: str, market: str,
                                event_time: int, received_at: int, contract_size: float = 1.0) -> Candle:
    """A closed (``w``) 1m candlestick as a Candle; ``event_time`` is the frame's ``time_ms``.
    Futures: ``contract_size`` converts ``v`` (contracts) to base currency."""
    interval = k.n.partition("_")[0]
    if interval != "1m":
        raise RecordError("unexpected_interval", f"{symbol}: candlestick interval {interval!r}, only 1m is streamed",
                          field="n")
    open_time = _open_time(k, symbol)
    if market == "spot":
        volume = _num(k.a, "a", symbol)
        quote_volume: float | None = _num(k.v, "v", symbol)
    else:
        volume = base_units(_num(k.v, "v", symbol), contract_size)
        quote_volume = None
    candle = Candle(exchange=exchange, market=market, symbol=symbol, tf="1m", open_time=open_time,
                    close_time=open_time + MINUTE_MS - 1, open=_price(k.o, "o", symbol),
                    high=_price(k.h, "h", symbol), low=_price(k.l, "l", symbol), close=_price(k.c, "c", symbol),
                    volume=volume, quote_volume=quote_volume, provenance="ws_final", event_time=event_time,
                    received_at=received_at)
    try:
        return validate_candle(candle)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol} 1m {open_time}: {exc.detail}", field=exc.field) from None


def parse_spot_trade_to_tick(t: GateSpotTrade, symbol: str, exchange: str, market: str, received_at: int) -> Tick:
    if t.side not in ("buy", "sell"):
        raise RecordError("bad_side", f"{symbol}: side={t.side!r}", field="side")
    qty = _num(t.amount, "amount", symbol)
    if qty < 0:
        raise RecordError("bad_quantity", f"{symbol}: amount={t.amount!r}", field="amount")
    event_time = int(_num(t.create_time_ms, "create_time_ms", symbol))
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=str(t.id),
                price=_price(t.price, "price", symbol), qty=qty, side=t.side, event_time=event_time,
                received_at=received_at)


def parse_futures_trade_to_tick(t: GateFuturesTrade, symbol: str, exchange: str, market: str,
                                received_at: int, contract_size: float) -> Tick:
    size = _num(t.size, "size", symbol)
    if size == 0:
        raise RecordError("bad_quantity", f"{symbol}: size=0", field="size")
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=str(t.id),
                price=_price(t.price, "price", symbol), qty=base_units(abs(size), contract_size),
                side="buy" if size > 0 else "sell",
                event_time=t.create_time_ms, received_at=received_at)


def parse_book_ticker_to_quote(q: GateBookTicker, symbol: str, exchange: str, market: str,
                               received_at: int, contract_size: float = 1.0) -> Quote:
    """Best bid/ask; futures sizes (contracts) times ``contract_size``, spot's as sent (base)."""
    if q.b == "" or q.a == "":
        raise RecordError("empty_book_side", f"{symbol}: book ticker without {'bids' if q.b == '' else 'asks'}",
                          field="b" if q.b == "" else "a")
    bid = _price(q.b, "b", symbol)
    ask = _price(q.a, "a", symbol)
    if bid > ask:
        raise RecordError("crossed_quote", f"{symbol}: bid {bid} > ask {ask}", field="b")
    return Quote(exchange=exchange, market=market, symbol=symbol, bid=bid,
                 bid_qty=base_units(_num(q.B, "B", symbol), contract_size), ask=ask,
                 ask_qty=base_units(_num(q.A, "A", symbol), contract_size), event_time=q.t, received_at=received_at)


def parse_futures_ticker_to_funding(t: GateFuturesTicker, symbol: str, exchange: str, market: str,
                                    event_time: int, received_at: int) -> FundingRate:
    return FundingRate(exchange=exchange, market=market, symbol=symbol,
                       mark_price=_price(t.mark_price, "mark_price", symbol),
                       index_price=_price(t.index_price, "index_price", symbol) if t.index_price else None,
                       funding_rate=_num(t.funding_rate, "funding_rate", symbol) if t.funding_rate else None,
                       event_time=event_time, received_at=received_at)


def parse_futures_ticker_to_open_interest(t: GateFuturesTicker, symbol: str, exchange: str, market: str,
                                          event_time: int, received_at: int, contract_size: float) -> OpenInterest:
    """``total_size`` (contracts) as open interest in base currency."""
    oi = _num(t.total_size, "total_size", symbol)
    if oi < 0:
        raise RecordError("bad_quantity", f"{symbol}: total_size={t.total_size!r}", field="total_size")
    return OpenInterest(exchange=exchange, market=market, symbol=symbol,
                        open_interest=base_units(oi, contract_size), event_time=event_time,
                        received_at=received_at)
