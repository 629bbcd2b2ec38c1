"""One unit for sizes on every venue (``connectors.base.units``): base currency.

Every futures venue, against its fake (which speaks contracts, as the real
exchange does), with the contract size ccxt reads from the fake's markets:

* a frame carrying N contracts publishes N x contractSize in base currency;
* REST candles (ccxt ``fetch_ohlcv``, what backfill and the audit use) equal
  the websocket candles exactly, volume included;
* a contract whose size was never learnt is refused (``unknown_contract_size``),
  never published in contracts;
* the rounding is the documented one: the float nearest the exact decimal
  product (3 x 0.1 is 0.3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import ccxt
import pytest

from connectors.base import CcxtRest
from connectors.base.connector import _differs
from connectors.base.rest import rest_row_to_candle
from connectors.base.units import ContractSizes, base_units, ccxt_with_base_volume
from connectors.okx import OkxSwapVenue
from streams.records import Candle, RecordError, Tick
from tests.connectors.fakes.adapter import adapter_for, jesse_candles
from tests.connectors.fakes.exchange import CandleRow

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


@dataclass(frozen=True)
class Wire:
    """How a venue's fake says ``contracts`` contracts traded, and which frames close a window."""

    #: the exchange's own name for the contract size in its markets list
    field: str
    trade: Callable[[Any, str, int, float], str]
    #: frames after which the window of ``row`` is published (``nxt``: the next window)
    closing: Callable[[Any, str, CandleRow, CandleRow], list[str]]
    #: candle volume is sent in contracts (OKX sends swap candles' base volume too: ``volCcy``)
    candle_in_contracts: bool = True


def _gate_trade(fake: Any, native: str, n: int, size: float) -> str:
    return fake.wrap(f"futures.trades:{native}", fake.trade(native, 100.0, n * size, fake.now_ms(), False))


def _gate_closing(fake: Any, native: str, row: CandleRow, nxt: CandleRow) -> list[str]:
    return [fake.wrap(f"futures.candlesticks:1m_{native}", fake.candlestick(native, row, closed=True))]


def _kucoin_trade(fake: Any, native: str, n: int, size: float) -> str:
    return fake.wrap(*fake.trade(native, 100.0, n * size, fake.now_ms(), False))


def _kucoin_closing(fake: Any, native: str, row: CandleRow, nxt: CandleRow) -> list[str]:
    topic = fake.kline_topic(native)
    return [fake.wrap(topic, fake.candle_push(native, row, row.close_time - 500)),
            fake.wrap(topic, fake.candle_push(native, nxt, nxt.open_time + 1))]


def _mexc_trade(fake: Any, native: str, n: int, size: float) -> str:
    return fake.wrap(*fake.trade(native, 100.0, n * size, fake.now_ms(), False))


def _mexc_closing(fake: Any, native: str, row: CandleRow, nxt: CandleRow) -> list[str]:
    stream = fake.kline_stream(native)
    return [fake.wrap(stream, fake.kline_push(native, row)), fake.wrap(stream, fake.kline_push(native, nxt))]


def _okx_trade(fake: Any, native: str, n: int, size: float) -> str:
    return fake.wrap(f"trades:{native}", fake.trade_payload(native, 100.0, n * size, fake.now_ms(), "buy"))


def _okx_closing(fake: Any, native: str, row: CandleRow, nxt: CandleRow) -> list[str]:
    return [fake.wrap(f"candle1m:{native}", fake.candle_payload(native, row, confirm=True))]


WIRES = {
    "gateio-futures": Wire("quanto_multiplier", _gate_trade, _gate_closing),
    "kucoin-futures": Wire("multiplier", _kucoin_trade, _kucoin_closing),
    "mexc-futures": Wire("contractSize", _mexc_trade, _mexc_closing),
    "okx-swap": Wire("ctVal", _okx_trade, _okx_closing, candle_in_contracts=False),
}
VENUES = sorted(WIRES)


async def _loaded(fakes: Any, name: str) -> tuple[Any, Any, CcxtRest, str, dict[str, Any]]:
    """The venue's fake with BTC/USDT listed, and the venue after loading markets from it over ccxt."""
    adapter = adapter_for(name)
    fake = await fakes(adapter.fake_cls, adapter.fake_market)
    native = adapter.list_symbol(fake, "BTC")
    venue = adapter.venue_cls(adapter.venue_config(fake, adapter.venue_cls))
    rest = CcxtRest(venue)
    adapter.prepare_rest(rest)
    markets = await rest.load_markets()
    return fake, venue, rest, native, markets["BTC/USDT"]


@pytest.mark.parametrize("venue_name", VENUES)
async def test_n_contracts_are_published_as_n_times_the_contract_size(fakes: Any, venue_name: str) -> None:
    fake, venue, rest, native, market = await _loaded(fakes, venue_name)
    try:
        size = market["contractSize"]
        # ccxt read the exchange's own field, and it is the size the fake's frames use
        assert size == fake.contract_size(native) == float(market["info"][WIRES[venue_name].field])
        assert size < 1  # so contracts and base differ
        for n in (1, 3, 7, 250):
            frame = WIRES[venue_name].trade(fake, native, n, size)
            (tick,) = [r for r in venue.parse_frame(frame, 1) if isinstance(r, Tick)]
            assert tick.qty == base_units(n, size) == pytest.approx(n * size), (n, frame)
            assert tick.qty != n
    finally:
        await rest.close()


@pytest.mark.parametrize("venue_name", VENUES)
async def test_rest_candles_equal_websocket_candles(fakes: Any, venue_name: str) -> None:
    """Backfill and audit read ccxt's ``fetch_ohlcv``: its volume must be the websocket's, exactly."""
    fake, venue, rest, native, _ = await _loaded(fakes, venue_name)
    rows = jesse_candles(9)["BTC"]
    try:
        ws: list[Candle] = []
        for row, nxt in zip(rows, rows[1:], strict=False):
            fake.set_now(row.close_time + 1)
            for frame in WIRES[venue_name].closing(fake, native, row, nxt):
                ws += [r for r in venue.parse_frame(frame, row.close_time + 2) if isinstance(r, Candle)]
        fake.add_candles(native, rows)
        fake.set_now(rows[-1].close_time + 1)
        got = await rest.fetch_ohlcv("BTC/USDT", rows[0].open_time, 20)
    finally:
        await rest.close()
    now = rows[-1].close_time + 1
    from_rest = [c for c in (rest_row_to_candle(venue.exchange, venue.market, "BTC/USDT", "1m", r, now) for r in got)
                 if c is not None]
    assert [c.open_time for c in ws] == [r.open_time for r in rows[:-1]]
    by_time = {c.open_time: c for c in from_rest}
    for c in ws:
        theirs = by_time[c.open_time]
        assert (theirs.open, theirs.high, theirs.low, theirs.close, theirs.volume) == \
            (c.open, c.high, c.low, c.close, c.volume), c.open_time
        assert not _differs(c, theirs)
        assert c.volume == pytest.approx(rows[ws.index(c)].volume, rel=1e-3)  # base currency, not contracts


@pytest.mark.parametrize("venue_name", VENUES)
async def test_unknown_contract_size_is_refused_not_published_in_contracts(fakes: Any, venue_name: str) -> None:
    adapter = adapter_for(venue_name)
    fake = await fakes(adapter.fake_cls, adapter.fake_market)
    native = adapter.list_symbol(fake, "BTC")
    venue = adapter.venue_cls()
    venue.set_symbol_map({"BTC/USDT": native})  # subscribed, but markets never loaded
    wire = WIRES[venue_name]
    frames = [wire.trade(fake, native, 3, fake.contract_size(native))]
    if wire.candle_in_contracts:
        frames += wire.closing(fake, native, *jesse_candles(2)["BTC"][:2])
    for frame in frames:
        with pytest.raises(RecordError) as exc:
            venue.parse_frame(frame, 1)
        assert exc.value.reason == "unknown_contract_size" and native in exc.value.detail


def test_rounding_is_the_exact_decimal_product() -> None:
    assert 3 * 0.1 != 0.3 and base_units(3, 0.1) == 0.3
    assert base_units(27525555, 0.0001) == 2752.5555
    assert base_units(0.5, 1.0) == 0.5 and base_units("2", 10.0) == 20.0
    for size in (0.1, 0.01, 0.001, 0.0001, 0.3, 0.7, 10.0, 25.0):
        for n in (1, 3, 7, 13, 99, 101, 12345, 987654321):
            exact = Fraction(n) * Fraction(repr(size))
            assert base_units(n, size) == float(exact), (n, size)  # float(Fraction) rounds once, correctly


def test_okx_swap_sizes_use_the_same_rounding() -> None:
    v = OkxSwapVenue()
    v.set_symbol_map({"BTC/USDT": "BTC-USDT-SWAP"})
    v.set_contract_sizes({"BTC-USDT-SWAP": 0.1})
    trade = {"arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"}, "data": [
        {"instId": "BTC-USDT-SWAP", "tradeId": "1", "px": "100", "sz": "3", "side": "buy", "ts": "1"}]}
    (tick,) = v.parse_frame(json.dumps(trade), 1)
    assert tick.qty == 0.3


def test_contract_sizes_learn_from_ccxt_markets_only_when_given() -> None:
    sizes = ContractSizes("x-futures")
    sizes.learn({"id": "A", "contract": True, "contractSize": 0.01})
    sizes.learn({"id": "B", "contract": True, "contractSize": None})  # ccxt knows none: stays unknown
    sizes.learn({"id": "C", "contract": False, "contractSize": None})
    assert sizes.of("A", "s") == 0.01 and len(sizes) == 1
    with pytest.raises(RecordError) as exc:
        sizes.of("B", "trades:B")
    assert exc.value.reason == "unknown_contract_size" and "trades:B" in exc.value.detail
    with pytest.raises(ValueError):
        sizes.update({"D": 0.0})


def test_rest_volume_without_a_contract_size_fails_with_the_reason() -> None:
    cls = ccxt_with_base_volume(ccxt.gate)
    ex = cls()
    row = {"t": 1632873600, "o": "1", "h": "2", "l": "1", "c": "2", "v": 7}
    assert ex.parse_ohlcv(row, {"contract": True, "contractSize": 0.001, "symbol": "X"})[5] == 0.007
    assert ex.parse_ohlcv(["1660957920", "5", "2", "3", "1", "1.5", "9"], {"contract": False})[5] == 9.0  # spot
    with pytest.raises(ccxt.BadResponse, match="unknown_contract_size"):
        ex.parse_ohlcv(row, {"contract": True, "contractSize": None, "symbol": "X"})
