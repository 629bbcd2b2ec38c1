"""Which symbols to stream: ccxt markets ranked by 24h quote volume.

``select_universe`` is pure (markets and tickers in, symbols out) so the rules
are testable; ``load_universe`` fetches both over REST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.base.rest import RestClient


@dataclass(frozen=True)
class UniverseRules:
    top: int | None = None
    quote: str | None = "USDT"
    min_quote_volume: float = 0.0
    allow: frozenset[str] = field(default_factory=frozenset)  # always included if listed
    deny: frozenset[str] = field(default_factory=frozenset)   # never included


def select_universe(markets: dict[str, dict[str, Any]], tickers: dict[str, dict[str, Any]],
                    rules: UniverseRules) -> list[str]:
    """Symbols by descending 24h quote volume, filtered by the rules; allow-listed
    symbols that exist are always kept (they do not count against ``top``)."""
    ranked: list[tuple[float, str]] = []
    for symbol, market in markets.items():
        if symbol in rules.deny or symbol in rules.allow:
            continue
        if rules.quote and market.get("quote") != rules.quote:
            continue
        t = tickers.get(symbol) or {}
        qv = t.get("quoteVolume")
        if qv is None and t.get("baseVolume") is not None and t.get("last") is not None:
            qv = t["baseVolume"] * t["last"]
        qv = float(qv or 0.0)
        if qv < rules.min_quote_volume:
            continue
        ranked.append((qv, symbol))
    ranked.sort(key=lambda x: (-x[0], x[1]))
    chosen = [s for _, s in ranked[: rules.top] if rules.top is not None] if rules.top is not None else [s for _, s in ranked]
    allowed = sorted(s for s in rules.allow if s in markets and s not in rules.deny)
    return allowed + [s for s in chosen if s not in allowed]


async def load_universe(rest: RestClient, rules: UniverseRules) -> list[str]:
    markets = await rest.load_markets()
    tickers = await rest.fetch_tickers()
    return select_universe(markets, tickers, rules)


def parse_symbol_list(text: str | None) -> frozenset[str]:
    return frozenset(s.strip().upper() for s in (text or "").split(",") if s.strip())


