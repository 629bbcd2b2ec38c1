"""One unit for sizes on every venue: base currency.

Futures venues quote sizes in contracts (Gate.io ``size``, KuCoin ``size``,
MEXC ``vol``, OKX ``sz``); scanflow publishes every ``qty`` / ``bid_qty`` /
``ask_qty``, candle ``volume`` and ``open_interest`` in base currency, so a
record means the same on every venue. A contract holds ``contractSize`` base
units, as ccxt reports it per market (OKX ``ctVal``, Gate
``quanto_multiplier``, KuCoin ``multiplier``, MEXC ``contractSize``).

Rounding rule (:func:`base_units`): the published size is the float nearest
the exact decimal product of the two numbers as the exchange wrote them
(each float read back as its shortest decimal), so 3 contracts of 0.1 are
``0.3``, never ``0.30000000000000004``. The websocket path and the REST path
(ccxt ``fetch_ohlcv`` through :func:`ccxt_with_base_volume`) use this one
function, so a REST candle equals the websocket candle exactly and the audit
compares like with like.

A contract size that is unknown (the market was not loaded, or ccxt reports
none) is never guessed: the websocket frame is dead-lettered
(``unknown_contract_size``) and a REST fetch fails with that reason.
"""

from __future__ import annotations

from decimal import Context, Decimal
from functools import cache
from typing import Any

from streams.records import RecordError

#: Wide enough for the exact product of two 17-digit decimals: one rounding only, to float.
_EXACT = Context(prec=40)


@cache
def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def base_units(contracts: float, contract_size: float) -> float:
    """``contracts`` x ``contract_size`` in base currency, by the rounding rule above."""
    c = float(contracts)
    if contract_size == 1.0:
        return c
    # contract counts are mostly whole numbers: Decimal(int) is exact and cheaper than parsing repr
    exact = Decimal(int(c)) if c.is_integer() else Decimal(repr(c))
    return float(_EXACT.multiply(exact, _decimal(contract_size)))


class ContractSizes:
    """Contract size (base units per contract) of each instrument, by exchange id.

    Learnt from ccxt markets when the connector loads them
    (:meth:`learn`, called from ``Venue.market_symbol``); bounded by the
    venue's listed markets."""

    def __init__(self, venue: str) -> None:
        self._venue = venue
        self._sizes: dict[str, float] = {}

    def learn(self, market: dict[str, Any]) -> None:
        """Remember ``market['contractSize']`` of a ccxt contract market (none: stays unknown)."""
        size = market.get("contractSize")
        if market.get("contract") and size:
            self._sizes[market["id"]] = float(size)

    def update(self, sizes: dict[str, float]) -> None:
        """Contract sizes by exchange id when markets are not loaded (tests, benchmarks)."""
        for native, size in sizes.items():
            if not size or size <= 0:
                raise ValueError(f"{self._venue}: contract size of {native} must be positive, got {size!r}")
            self._sizes[native] = float(size)

    def of(self, native: str, stream: str) -> float:
        """The contract size of ``native``; ``unknown_contract_size`` if it was never learnt."""
        size = self._sizes.get(native)
        if size is None:
            raise RecordError("unknown_contract_size", f"{self._venue} {stream}: contract size of {native} is "
                                                       "unknown (not in the loaded markets)")
        return size

    def __len__(self) -> int:
        return len(self._sizes)


@cache
def ccxt_with_base_volume(cls: type) -> type:
    """ccxt exchange class ``cls`` whose OHLCV rows of contract markets carry
    volume in base currency (ccxt returns contracts for Gate, KuCoin and MEXC
    futures), by :func:`base_units`. A contract market without a contract
    size raises ``ccxt.BadResponse`` naming ``unknown_contract_size`` (the
    backfill retries, then dead-letters the gap; the audit skips the symbol)."""
    import ccxt

    class BaseVolume(cls):  # type: ignore[misc, valid-type]
        def parse_ohlcv(self, ohlcv: Any, market: Any = None) -> list[Any]:
            row = super().parse_ohlcv(ohlcv, market)
            if not market or not market.get("contract") or row[5] is None:
                return row
            size = market.get("contractSize")
            if not size:
                raise ccxt.BadResponse(f"unknown_contract_size: {self.id} {market.get('symbol')}: ccxt reports "
                                       "no contractSize; volume would be in contracts")
            return [*row[:5], base_units(row[5], size), *row[6:]]

    BaseVolume.__name__ = BaseVolume.__qualname__ = f"{cls.__name__}BaseVolume"
    return BaseVolume


class ContractSizedVenue:
    """Mixin (before the venue's base class) for derivatives venues whose sizes
    arrive in contracts: learns each contract's size from the ccxt markets the
    connector loads, takes them directly when markets are not loaded (tests,
    benchmarks), and answers :meth:`contract_size` (``unknown_contract_size``
    for a contract never learnt)."""

    name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._contract_sizes = ContractSizes(self.name)

    def market_symbol(self, market: dict[str, Any]) -> str | None:
        """As the venue's; also remembers the contract size of each contract we may stream."""
        symbol: str | None = super().market_symbol(market)  # type: ignore[misc]
        if symbol is not None:
            self._contract_sizes.learn(market)
        return symbol

    def set_contract_sizes(self, sizes: dict[str, float]) -> None:
        """Contract sizes by exchange id when markets are not loaded (tests, benchmarks)."""
        self._contract_sizes.update(sizes)

    def contract_size(self, native: str, stream: str) -> float:
        return self._contract_sizes.of(native, stream)
