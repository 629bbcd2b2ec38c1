"""REST access for backfill, audit and the universe: a thin seam over ccxt.

:class:`RestClient` is what the connector needs; :class:`CcxtRest` implements
it with ccxt's async client (``enableRateLimit`` on, so ccxt paces requests by
the exchange's documented weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

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

    async def close(self) -> None:
        await self.exchange.close()
