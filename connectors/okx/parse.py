"""The one place OKX structs become scanflow records.

Every function takes the decoded struct, the unified symbol and the identity
(exchange, market) and returns a record; number errors become
:class:`RecordError` naming the field and the symbol. Sizes are in base
currency everywhere: SWAP sizes arrive in contracts and are multiplied by the
contract value (``ctVal``, ccxt's ``contractSize``) with
``connectors.base.units.base_units`` (the rounding every venue shares), SWAP candles take
``volCcy`` (base) like ccxt's ``fetch_ohlcv``, so websocket and REST candles
agree.
"""

from __future__ import annotations

from connectors.base.numbers import number as _num
from connectors.base.numbers import price as _price
from connectors.base.units import base_units
from connectors.okx.schemas import OkxCandle, OkxFundingRate, OkxOpenInterest, OkxTicker, OkxTrade
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
    validate_tick,
)


def ms(text: str, field: str, symbol: str) -> int:
    """OKX timestamps are decimal strings of UTC milliseconds."""
    if not text.isdigit():
        raise RecordError("bad_time", f"{symbol}: field {field}={text!r} is not integer milliseconds", field=field)
    return int(text)


def parse_candle_to_candle(k: OkxCandle, symbol: str, exchange: str, market: str, received_at: int, *,
                           contracts: bool) -> Candle:
    """A closed ``candle1m`` row. ``contracts``: SWAP (base volume is ``volCcy``).
    OKX's candle push carries no event time: the candle's end stands for it."""
    open_time = ms(k.ts, "ts", symbol)
    volume = _num(k.volCcy, "volCcy", symbol) if contracts else _num(k.vol, "vol", symbol)
    candle = Candle(exchange=exchange, market=market, symbol=symbol, tf="1m", open_time=open_time,
                    close_time=open_time + MINUTE_MS - 1, open=_price(k.o, "o", symbol), high=_price(k.h, "h", symbol),
                    low=_price(k.l, "l", symbol), close=_price(k.c, "c", symbol), volume=volume,
                    quote_volume=_num(k.volCcyQuote, "volCcyQuote", symbol), provenance="ws_final",
                    event_time=open_time + MINUTE_MS, received_at=received_at)
    try:
        return validate_candle(candle)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol} 1m {open_time}: {exc.detail}", field=exc.field) from None


def parse_trade_to_tick(t: OkxTrade, symbol: str, exchange: str, market: str, received_at: int,
                        contract_size: float = 1.0) -> Tick:
    if not t.tradeId.isdigit():
        raise RecordError("bad_trade_id", f"{symbol}: tradeId={t.tradeId!r} is not numeric", field="tradeId")
    side = t.side if t.side in ("buy", "sell") else None
    if side is None:
        raise RecordError("bad_side", f"{symbol}: side={t.side!r}", field="side")
    qty = _num(t.sz, "sz", symbol)
    if qty < 0:
        raise RecordError("bad_quantity", f"{symbol}: sz={t.sz!r}", field="sz")
    return validate_tick(Tick(exchange=exchange, market=market, symbol=symbol, trade_id=t.tradeId,
                              price=_price(t.px, "px", symbol), qty=base_units(qty, contract_size), side=side,
                              event_time=ms(t.ts, "ts", symbol), received_at=received_at))


def parse_ticker_to_quote(t: OkxTicker, symbol: str, exchange: str, market: str, received_at: int,
                          contract_size: float = 1.0) -> Quote:
    """Best bid/ask of a ``tickers`` push (the caller skips pushes with an empty side)."""
    q = Quote(exchange=exchange, market=market, symbol=symbol, bid=_price(t.bidPx, "bidPx", symbol),
              bid_qty=base_units(_num(t.bidSz, "bidSz", symbol), contract_size), ask=_price(t.askPx, "askPx", symbol),
              ask_qty=base_units(_num(t.askSz, "askSz", symbol), contract_size), event_time=ms(t.ts, "ts", symbol),
              received_at=received_at)
    try:
        return validate_quote(q)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{symbol}: {exc.detail}", field=exc.field) from None


def funding_of(f: OkxFundingRate, symbol: str) -> tuple[float, int]:
    """``(fundingRate, fundingTime)`` of a ``funding-rate`` push: the rate and the
    settlement it applies at (scanflow's ``next_funding_time``)."""
    return _num(f.fundingRate, "fundingRate", symbol), ms(f.fundingTime, "fundingTime", symbol)


def parse_mark_to_funding(mark_px: str, funding: tuple[float, int] | None, symbol: str, exchange: str, market: str,
                          event_time: int, received_at: int) -> FundingRate:
    """A swap's latest ``mark-price`` with its latest ``funding-rate`` (OKX sends
    them on separate channels; the venue keeps the latest of each)."""
    rate, next_time = funding if funding is not None else (None, None)
    return FundingRate(exchange=exchange, market=market, symbol=symbol, mark_price=_price(mark_px, "markPx", symbol),
                       funding_rate=rate, next_funding_time=next_time, event_time=event_time, received_at=received_at)


def parse_open_interest_to_open_interest(o: OkxOpenInterest, symbol: str, exchange: str, market: str,
                                         received_at: int) -> OpenInterest:
    """``open_interest`` in base currency (``oiCcy``), its value in USD (``oiUsd``)."""
    oi = _num(o.oiCcy, "oiCcy", symbol)
    if oi < 0:
        raise RecordError("bad_quantity", f"{symbol}: oiCcy={o.oiCcy!r}", field="oiCcy")
    return OpenInterest(exchange=exchange, market=market, symbol=symbol, open_interest=oi,
                        open_interest_value=_num(o.oiUsd, "oiUsd", symbol) if o.oiUsd else None,
                        event_time=ms(o.ts, "ts", symbol), received_at=received_at)
