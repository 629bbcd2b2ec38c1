"""Captured Binance frames decode into the right records (values checked
against the raw frame), and bad frames raise RecordError with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.binance import BinanceSpotVenue, BinanceUsdmVenue
from connectors.records import SubscribeAck
from streams.records import Candle, FundingRate, Quote, RecordError, Tick

RES = Path(__file__).parent / "resources" / "binance"
pytestmark = pytest.mark.unit


def frame(name: str) -> str:
    return (RES / name).read_text().strip()


def venue(cls: type) -> BinanceSpotVenue:
    v = cls()
    v.set_symbol_map({"NKN/USDT": "NKNUSDT", "OMG/BUSD": "OMGBUSD", "BTC/USDT": "BTCUSDT",
                      "SUSHI/USDT": "SUSHIUSDT", "CTK/USDT": "CTKUSDT"})
    return v


def test_spot_closed_kline_becomes_candle() -> None:
    (c,) = venue(BinanceSpotVenue).parse_frame(frame("spot_kline_closed.json"), received_at=1633998301800)
    assert isinstance(c, Candle)
    assert (c.exchange, c.market, c.symbol, c.tf, c.provenance) == ("binance", "spot", "OMG/BUSD", "1m", "ws_final")
    assert (c.open_time, c.close_time, c.event_time, c.received_at) == (1633998240000, 1633998299999, 1633998301755, 1633998301800)
    assert c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
    assert c.trades is not None and c.quote_volume is not None and c.quote_volume > 0


def test_open_klines_publish_nothing() -> None:
    assert venue(BinanceSpotVenue).parse_frame(frame("spot_kline_open.json"), 1) == []
    assert venue(BinanceUsdmVenue).parse_frame(frame("usdm_kline_open.json"), 1) == []


def test_usdm_closed_kline_values() -> None:
    (c,) = venue(BinanceUsdmVenue).parse_frame(frame("usdm_kline_closed.json"), 5)
    assert (c.market, c.symbol, c.open_time) == ("usdm", "SUSHI/USDT", 1626992700000)
    assert (c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades) == (7.608, 7.618, 7.607, 7.617, 3005.0, 22875.859, 113)


@pytest.mark.parametrize(("cls", "name", "symbol", "trade_id", "price", "qty", "side", "event_time"), [
    (BinanceSpotVenue, "spot_trade.json", "BTC/USDT", "3735693016", 61685.99, 0.00017, "sell", 1723161601437),
    (BinanceSpotVenue, "spot_agg_trade.json", "NKN/USDT", "15683430", 0.3528, 58.0, "buy", 1633998523963),
    (BinanceUsdmVenue, "usdm_agg_trade.json", "CTK/USDT", "16599292", 1.011, 10.0, "buy", 1626992741421),
    (BinanceUsdmVenue, "usdm_trade.json", "BTC/USDT", "5266583935", 61800.3, 0.006, "buy", 1723161256322),
])
def test_trades_become_ticks(cls: type, name: str, symbol: str, trade_id: str, price: float, qty: float,
                             side: str, event_time: int) -> None:
    (t,) = venue(cls).parse_frame(frame(name), 7)
    assert isinstance(t, Tick)
    assert (t.symbol, t.trade_id, t.price, t.qty, t.side, t.event_time, t.received_at) == (symbol, trade_id, price, qty, side, event_time, 7)


def test_book_tickers_become_quotes() -> None:
    (q,) = venue(BinanceSpotVenue).parse_frame(frame("spot_book_ticker.json"), 99)
    assert isinstance(q, Quote)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty) == (61685.99, 1.25869, 61686.0, 2.44816)
    assert q.event_time == 99  # spot book tickers carry no event time
    (q,) = venue(BinanceUsdmVenue).parse_frame(frame("usdm_book_ticker.json"), 99)
    assert (q.bid, q.ask, q.event_time) == (61800.2, 61800.3, 1723161256313)


def test_mark_price_becomes_funding() -> None:
    (f,) = venue(BinanceUsdmVenue).parse_frame(frame("usdm_mark_price.json"), 1)
    assert isinstance(f, FundingRate)
    assert (f.symbol, f.mark_price, f.index_price, f.funding_rate, f.next_funding_time) == ("BTC/USDT", 11794.15, 11784.62659091, 0.00038167, 1562306400000)


def test_acks_and_errors() -> None:
    v = venue(BinanceSpotVenue)
    assert v.parse_frame(frame("subscribe_ack.json"), 1) == [SubscribeAck(1)]
    (err,) = v.parse_frame(frame("subscribe_error.json"), 1)
    assert err.id == 3 and not err.ok and "SUBSCRIB" in err.detail


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"stream":"btcusdt@kline_1m","data":{"e":"kline",', "malformed_json"),
    (frame("spot_depth_update.json"), "unexpected_stream"),
    (frame("spot_trade.json").replace('"p":"61685.99000000"', '"p":"abc"'), "bad_number"),
    (frame("spot_trade.json").replace('"t":3735693016', '"t":"x"'), "schema_mismatch"),
    (frame("spot_trade.json").replace('"BTCUSDT"', '"ETHUSDT"'), "unknown_symbol"),
    (frame("spot_kline_closed.json").replace('"h":"13.80760000"', '"h":"1.0"'), "high_below_low"),
    ('{"hello":1}', "unexpected_frame"),
])
def test_bad_frames_raise_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        venue(BinanceSpotVenue).parse_frame(raw, 1)
    assert info.value.reason == reason


def test_streams_and_subscribe_messages() -> None:
    spot, usdm = BinanceSpotVenue(), BinanceUsdmVenue()
    assert spot.streams_for("BTC/USDT") == ["btcusdt@kline_1m", "btcusdt@trade", "btcusdt@bookTicker"]
    assert usdm.streams_for("ETH/USDT") == ["ethusdt@kline_1m", "ethusdt@aggTrade", "ethusdt@bookTicker", "ethusdt@markPrice@1s"]
    streams = [f"s{i}@trade" for i in range(450)]
    msgs = spot.subscribe_messages(streams, 7)
    assert len(msgs) == 3 and '"id":7' in msgs[0] and '"id":9' in msgs[2] and '"method":"SUBSCRIBE"' in msgs[0]
