"""The one place MEXC messages become scanflow records.

Sizes are in base currency everywhere (``connectors.base.units``): spot sizes
are base already; contract sizes (kline ``q``, deal ``v``, depth sizes,
``holdVol``) arrive in contracts and are multiplied by the contract's
``contractSize`` with :func:`base_units`, the function the REST candles go
through too, so websocket and REST candles agree exactly. Candles
closed without an exchange flag carry provenance ``inferred`` (DESIGN.md).
Trades without an exchange trade id get one derived from their content
(time, price, quantity, side), so the same trade seen on two overlapping
connections keeps the same id.
"""

from __future__ import annotations

from typing import Any

from connectors.base.numbers import number as _num
from connectors.base.numbers import price as _price
from connectors.base.units import base_units
from connectors.mexc.schemas import (
    MexcContractDeal,
    MexcContractDepth,
    MexcContractKline,
    MexcContractTicker,
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
    validate_quote,
)

_SIDES = {1: "buy", 2: "sell"}




def _qty(value: str | float | None, field: str, symbol: str) -> float:
    out = _num(value, field, symbol)
    if out < 0:
        raise RecordError("bad_quantity", f"{symbol}: field {field}={value!r}", field=field)
    return out


def _side(trade_type: int, symbol: str) -> str:
    side = _SIDES.get(trade_type)
    if side is None:
        raise RecordError("bad_side", f"{symbol}: tradeType/T={trade_type!r} is not 1 (buy) or 2 (sell)",
                          field="tradeType")
    return side


def _candle(symbol: str, exchange: str, market: str, open_time: int, o: float, h: float, low: float, c: float,
            volume: float, quote_volume: float, event_time: int, received_at: int) -> Candle:
    candle = Candle(exchange=exchange, market=market, symbol=symbol, tf="1m", open_time=open_time,
                    close_time=open_time + MINUTE_MS - 1, open=o, high=h, low=low, close=c, volume=volume,
                    quote_volume=quote_volume, provenance="inferred", event_time=event_time,
                    received_at=received_at)
    try:
        return validate_candle(candle)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol} 1m {open_time}: {exc.detail}", field=exc.field) from None


# ---- spot (protobuf) -------------------------------------------------------------

def spot_kline_open_time(k: Any, symbol: str) -> int:
    """Window start (ms) of a ``PublicSpotKlineV3Api``; only one-minute windows are accepted."""
    if k.interval != "Min1" or k.windowEnd - k.windowStart != 60:
        raise RecordError("unexpected_interval", f"{symbol}: kline interval {k.interval!r} "
                          f"({k.windowStart}..{k.windowEnd}), only Min1 is streamed", field="interval")
    return int(k.windowStart) * 1000


def parse_spot_kline_to_candle(k: Any, symbol: str, exchange: str, market: str, event_time: int,
                               received_at: int) -> Candle:
    """A ``PublicSpotKlineV3Api`` push (the window's state so far) as a Candle."""
    return _candle(symbol, exchange, market, spot_kline_open_time(k, symbol),
                   _price(k.openingPrice, "openingPrice", symbol), _price(k.highestPrice, "highestPrice", symbol),
                   _price(k.lowestPrice, "lowestPrice", symbol), _price(k.closingPrice, "closingPrice", symbol),
                   _qty(k.volume, "volume", symbol), _qty(k.amount, "amount", symbol), event_time, received_at)


def parse_spot_deals_to_ticks(d: Any, symbol: str, exchange: str, market: str, received_at: int) -> list[Tick]:
    """A ``PublicAggreDealsV3Api`` push: one Tick per deal, in MEXC's order."""
    out = []
    seen: dict[str, int] = {}
    for item in d.deals:
        price = _price(item.price, "price", symbol)
        qty = _qty(item.quantity, "quantity", symbol)
        side = _side(item.tradeType, symbol)
        trade_id = item.tradeId or synthetic_trade_id(
            f"{item.time}-{item.price}-{item.quantity}-{item.tradeType}", seen)
        out.append(Tick(exchange=exchange, market=market, symbol=symbol, trade_id=trade_id, price=price, qty=qty,
                        side=side, event_time=int(item.time), received_at=received_at))
    return out


def parse_spot_book_ticker_to_quote(b: Any, symbol: str, exchange: str, market: str, event_time: int,
                                    received_at: int) -> Quote:
    """A ``PublicAggreBookTickerV3Api`` push as a Quote."""
    return _quote(symbol, exchange, market, _price(b.bidPrice, "bidPrice", symbol),
                  _qty(b.bidQuantity, "bidQuantity", symbol), _price(b.askPrice, "askPrice", symbol),
                  _qty(b.askQuantity, "askQuantity", symbol), event_time, received_at)


def _quote(symbol: str, exchange: str, market: str, bid: float, bid_qty: float, ask: float, ask_qty: float,
           event_time: int, received_at: int) -> Quote:
    try:
        return validate_quote(Quote(exchange=exchange, market=market, symbol=symbol, bid=bid, bid_qty=bid_qty,
                                    ask=ask, ask_qty=ask_qty, event_time=event_time, received_at=received_at))
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol}: {exc.detail}", field=exc.field) from None


# ---- USDT-M contracts (JSON) ---------------------------------------------------------

def parse_contract_kline_to_candle(k: MexcContractKline, symbol: str, exchange: str, market: str,
                                   event_time: int, received_at: int, contract_size: float) -> Candle:
    """A ``push.kline`` (the window's state so far) as a Candle; volume ``q`` (contracts) in base
    currency, ``a`` (quote) as sent."""
    if k.interval != "Min1":
        raise RecordError("unexpected_interval", f"{symbol}: kline interval {k.interval!r}, only Min1 is streamed",
                          field="interval")
    return _candle(symbol, exchange, market, k.t * 1000, _price(k.o, "o", symbol), _price(k.h, "h", symbol),
                   _price(k.l, "l", symbol), _price(k.c, "c", symbol), base_units(_qty(k.q, "q", symbol), contract_size),
                   _qty(k.a, "a", symbol), event_time, received_at)


def synthetic_trade_id(content: str, seen: dict[str, int]) -> str:
    """An id for a deal MEXC sends without one: its content (time, price, size,
    side), plus ``#n`` for the n-th identical deal of the same push. Two real deals
    can share every field; numbering them within their push keeps both, while the
    same push seen again (a rotation overlap, a reconnect) gives the same ids, so
    the connector still drops the repeat."""
    n = seen.get(content, 0)
    seen[content] = n + 1
    return content if n == 0 else f"{content}#{n}"


def parse_contract_deal_to_tick(d: MexcContractDeal, symbol: str, exchange: str, market: str,
                                received_at: int, contract_size: float,
                                seen: dict[str, int] | None = None) -> Tick:
    trade_id = (str(d.i) if d.i is not None and d.i != ""
                else synthetic_trade_id(f"{d.t}-{d.p!r}-{d.v!r}-{d.T}", {} if seen is None else seen))
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=trade_id, price=_price(d.p, "p", symbol),
                qty=base_units(_qty(d.v, "v", symbol), contract_size), side=_side(d.T, symbol), event_time=d.t,
                received_at=received_at)


def parse_contract_depth_to_quote(d: MexcContractDepth, symbol: str, exchange: str, market: str, event_time: int,
                                  received_at: int, contract_size: float) -> Quote:
    """The best level of each side of a ``push.depth.full`` snapshot; sizes (contracts) in base currency."""
    if not d.bids or not d.asks:
        raise RecordError("empty_book", f"{symbol}: depth snapshot without {'bids' if not d.bids else 'asks'}",
                          field="bids" if not d.bids else "asks")
    (bid, bid_qty, *_), (ask, ask_qty, *_) = _level(d.bids[0], "bids", symbol), _level(d.asks[0], "asks", symbol)
    return _quote(symbol, exchange, market, _price(bid, "bids[0][0]", symbol),
                  base_units(_qty(bid_qty, "bids[0][1]", symbol), contract_size), _price(ask, "asks[0][0]", symbol),
                  base_units(_qty(ask_qty, "asks[0][1]", symbol), contract_size), event_time, received_at)


def _level(level: list[float], side: str, symbol: str) -> list[float]:
    if len(level) < 2:
        raise RecordError("schema_mismatch", f"{symbol}: {side}[0]={level!r} is not [price, contracts, orders]",
                          field=side)
    return level


def parse_contract_ticker_to_funding(t: MexcContractTicker, symbol: str, exchange: str, market: str,
                                     next_funding_time: int | None, received_at: int) -> FundingRate:
    """``push.ticker`` as mark price (``fairPrice``), index and funding rate."""
    return FundingRate(exchange=exchange, market=market, symbol=symbol,
                       mark_price=_price(t.fairPrice, "fairPrice", symbol),
                       index_price=_price(t.indexPrice, "indexPrice", symbol) if t.indexPrice is not None else None,
                       funding_rate=_num(t.fundingRate, "fundingRate", symbol) if t.fundingRate is not None else None,
                       next_funding_time=next_funding_time, event_time=t.timestamp, received_at=received_at)


def parse_contract_ticker_to_open_interest(t: MexcContractTicker, symbol: str, exchange: str, market: str,
                                           received_at: int, contract_size: float) -> OpenInterest:
    """``holdVol`` of a ``push.ticker`` (contracts) as open interest in base currency."""
    return OpenInterest(exchange=exchange, market=market, symbol=symbol,
                        open_interest=base_units(_qty(t.holdVol, "holdVol", symbol), contract_size),
                        event_time=t.timestamp,
                        received_at=received_at)


def merge_funding_rate(symbol: str, exchange: str, market: str, mark_price: float, index_price: float | None,
                       rate: float, next_funding_time: int | None, event_time: int, received_at: int) -> FundingRate:
    """A ``push.funding.rate`` merged with the last ticker's mark and index (the push carries no prices)."""
    return FundingRate(exchange=exchange, market=market, symbol=symbol, mark_price=mark_price,
                       index_price=index_price, funding_rate=_num(rate, "rate", symbol),
                       next_funding_time=next_funding_time, event_time=event_time, received_at=received_at)
