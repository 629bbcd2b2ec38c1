"""The one place KuCoin structs become scanflow records.

Sizes are in base currency everywhere (``connectors.base.units``): spot
sizes are base already; futures sizes (candle volume, execution ``size``,
tickerV2 sizes) arrive in contracts and are multiplied by the contract's
``multiplier`` (ccxt's ``contractSize``) with :func:`base_units`, the
function the REST candles go through too, so websocket and REST candles
agree exactly. Quote volume (turnover) is in quote currency on both markets.
"""

from __future__ import annotations

import math

from connectors.base.numbers import number as _num
from connectors.base.numbers import price as _price
from connectors.base.units import base_units
from connectors.kucoin.schemas import (
    KucoinCandles,
    KucoinFuturesExecution,
    KucoinFuturesTickerV2,
    KucoinSpotMatch,
    KucoinSpotTicker,
)
from detectors.timeframes import MINUTE_MS
from streams.records import Candle, FundingRate, Quote, RecordError, Tick, validate_candle


def to_ms(ts: int) -> int:
    """KuCoin mixes ns, µs and ms timestamps; scale any of them to ms."""
    while ts > 10**13:
        ts //= 1000
    return ts


def candle_open_time(k: KucoinCandles, symbol: str) -> int:
    if len(k.candles) < 7:
        raise RecordError("schema_mismatch", f"{symbol}: candles has {len(k.candles)} fields, expected 7",
                          field="candles")
    try:
        return int(k.candles[0]) * 1000
    except ValueError:
        raise RecordError("bad_number", f"{symbol}: candles[0]={k.candles[0]!r} is not unix seconds",
                          field="candles") from None


def parse_candles_to_candle(k: KucoinCandles, symbol: str, exchange: str, market: str, received_at: int,
                            contract_size: float = 1.0) -> Candle:
    """The final state of a window (the closer decided it closed) as a Candle; futures
    volume (contracts) times ``contract_size``. KuCoin sends no close flag, so the
    close is inferred (provenance ``inferred``, DESIGN.md)."""
    open_time = candle_open_time(k, symbol)
    c = k.candles
    if market == "spot":
        volume, quote_volume = _num(c[5], "candles[5]", symbol), _num(c[6], "candles[6]", symbol)
    else:
        quote_volume = _num(c[5], "candles[5]", symbol)
        volume = base_units(_num(c[6], "candles[6]", symbol), contract_size)
    candle = Candle(exchange=exchange, market=market, symbol=symbol, tf="1m", open_time=open_time,
                    close_time=open_time + MINUTE_MS - 1, open=_price(c[1], "candles[1]", symbol),
                    high=_price(c[3], "candles[3]", symbol), low=_price(c[4], "candles[4]", symbol),
                    close=_price(c[2], "candles[2]", symbol), volume=volume, quote_volume=quote_volume,
                    provenance="inferred", event_time=to_ms(k.time), received_at=received_at)
    try:
        return validate_candle(candle)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol} 1m {open_time}: {exc.detail}", field=exc.field) from None


def _side(side: str, symbol: str) -> str:
    if side not in ("buy", "sell"):
        raise RecordError("bad_side", f"{symbol}: side={side!r}", field="side")
    return side


def parse_spot_match_to_tick(t: KucoinSpotMatch, symbol: str, exchange: str, market: str, received_at: int) -> Tick:
    try:
        ts = to_ms(int(t.time))
    except ValueError:
        raise RecordError("bad_number", f"{symbol}: time={t.time!r}", field="time") from None
    qty = _num(t.size, "size", symbol)
    if qty <= 0:
        raise RecordError("bad_quantity", f"{symbol}: size={t.size!r}", field="size")
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=t.tradeId, price=_price(t.price, "price", symbol),
                qty=qty, side=_side(t.side, symbol), event_time=ts, received_at=received_at)


def parse_futures_execution_to_tick(t: KucoinFuturesExecution, symbol: str, exchange: str, market: str,
                                    received_at: int, contract_size: float) -> Tick:
    if t.size <= 0:
        raise RecordError("bad_quantity", f"{symbol}: size={t.size!r}", field="size")
    return Tick(exchange=exchange, market=market, symbol=symbol, trade_id=t.tradeId, price=_price(t.price, "price", symbol),
                qty=base_units(t.size, contract_size), side=_side(t.side, symbol), event_time=to_ms(t.ts),
                received_at=received_at)


def _quote(symbol: str, exchange: str, market: str, bid: str, bid_qty: str | float, ask: str, ask_qty: str | float,
           event_time: int, received_at: int, contract_size: float = 1.0) -> Quote:
    b = _price(bid, "bestBid", symbol)
    a = _price(ask, "bestAsk", symbol)
    if b > a:
        raise RecordError("crossed_quote", f"{symbol}: bid {b} > ask {a}", field="bestBid")
    return Quote(exchange=exchange, market=market, symbol=symbol, bid=b,
                 bid_qty=base_units(_num(bid_qty, "bestBidSize", symbol), contract_size), ask=a,
                 ask_qty=base_units(_num(ask_qty, "bestAskSize", symbol), contract_size), event_time=event_time,
                 received_at=received_at)


def parse_spot_ticker_to_quote(t: KucoinSpotTicker, symbol: str, exchange: str, market: str, received_at: int) -> Quote:
    ts = t.time if t.time is not None else t.Time
    return _quote(symbol, exchange, market, t.bestBid, t.bestBidSize, t.bestAsk, t.bestAskSize,
                  to_ms(ts) if ts is not None else received_at, received_at)


def parse_futures_ticker_to_quote(t: KucoinFuturesTickerV2, symbol: str, exchange: str, market: str,
                                  received_at: int, contract_size: float) -> Quote:
    return _quote(symbol, exchange, market, t.bestBidPrice, t.bestBidSize, t.bestAskPrice, t.bestAskSize,
                  to_ms(t.ts), received_at, contract_size)


def parse_instrument_to_funding(symbol: str, exchange: str, market: str, mark_price: float,
                                index_price: float | None, funding_rate: float | None, event_time: int,
                                received_at: int) -> FundingRate:
    """Mark/index and funding arrive as separate ``/contract/instrument`` pushes; the venue merges them."""
    if not math.isfinite(mark_price) or mark_price <= 0:
        raise RecordError("non_positive_price", f"{symbol}: markPrice={mark_price!r}", field="markPrice")
    return FundingRate(exchange=exchange, market=market, symbol=symbol, mark_price=mark_price,
                       index_price=index_price, funding_rate=funding_rate, event_time=event_time,
                       received_at=received_at)
