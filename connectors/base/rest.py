"""REST access for backfill, audit and the universe: a thin seam over ccxt.

:class:`RestClient` is what the connector needs; :class:`CcxtRest` implements
it with ccxt's async client (``enableRateLimit`` on, so ccxt paces requests by
the exchange's documented weights).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

from detectors.timeframes import TIMEFRAME_MS
from streams.records import Candle, RecordError, validate_candle

if TYPE_CHECKING:
    from connectors.base.venue import Venue


class RestClient(Protocol):
    async def load_markets(self) -> dict[str, dict[str, Any]]: ...

    async def fetch_tickers(self) -> dict[str, dict[str, Any]]: ...

    async def fetch_ohlcv(self, symbol: str, since: int, limit: int) -> list[list[float]]:
        """Rows ``[open_time, open, high, low, close, volume]`` from ``since``, oldest first."""

    async def close(self) -> None: ...


class CcxtRest:
    """ccxt client of a venue; symbols are scanflow's ``BASE/QUOTE``, mapped to ccxt's."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.exchange = venue.ccxt_exchange()
        self._ccxt_symbol: dict[str, str] = {}

    async def load_markets(self) -> dict[str, dict[str, Any]]:
        markets = await self.exchange.load_markets()
        ours: dict[str, dict[str, Any]] = {}
        for m in markets.values():
            sym = self.venue.market_symbol(m)
            if sym is not None:
                ours[sym] = m
                self._ccxt_symbol[sym] = m["symbol"]
        self.venue.set_symbol_map({s: m["id"] for s, m in ours.items()})
        return ours

    def ccxt_symbol(self, symbol: str) -> str:
        return self._ccxt_symbol.get(symbol, symbol)

    async def fetch_tickers(self) -> dict[str, dict[str, Any]]:
        if not self._ccxt_symbol:
            await self.load_markets()
        back = {v: k for k, v in self._ccxt_symbol.items()}
        tickers = await self.exchange.fetch_tickers(list(self._ccxt_symbol.values()))
        return {back[s]: t for s, t in tickers.items() if s in back}

    async def fetch_ohlcv(self, symbol: str, since: int, limit: int) -> list[list[float]]:
        if not self._ccxt_symbol:
            await self.load_markets()
        rows = await self.exchange.fetch_ohlcv(self.ccxt_symbol(symbol), "1m", since=since, limit=limit)
        return [list(r) for r in rows]

    async def fetch_ohlcv_tf(self, symbol: str, tf: str, since: int, limit: int) -> list[list[float]]:
        """Like :meth:`fetch_ohlcv` for any timeframe ccxt knows (backfill of higher timeframes)."""
        if not self._ccxt_symbol:
            await self.load_markets()
        rows = await self.exchange.fetch_ohlcv(self.ccxt_symbol(symbol), tf, since=since, limit=limit)
        return [list(r) for r in rows]

    async def close(self) -> None:
        await self.exchange.close()


def rest_row_to_candle(exchange: str, market: str, symbol: str, tf: str, row: list[Any], now: int,
                       received_at: int | None = None, provenance: str = "rest_backfill") -> Candle | None:
    """A ccxt OHLCV row as a validated Candle; None while the candle is still open at ``now``."""
    open_time = int(row[0])
    close_time = open_time + TIMEFRAME_MS[tf] - 1
    if close_time >= now:
        return None
    volume = row[5]
    if volume is None or (isinstance(volume, float) and math.isnan(volume)):
        volume = 0.0
    candle = Candle(exchange=exchange, market=market, symbol=symbol, tf=tf, open_time=open_time,
                    close_time=close_time, open=float(row[1]), high=float(row[2]), low=float(row[3]),
                    close=float(row[4]), volume=float(volume), provenance=provenance,
                    event_time=close_time + 1, received_at=received_at if received_at is not None else now)
    try:
        return validate_candle(candle)
    except RecordError as exc:
        raise RecordError(exc.reason, f"{exchange}:{market} {symbol} {tf} {open_time}: {exc.detail}",
                          field=exc.field) from None
