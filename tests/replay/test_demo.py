import numpy as np
import pytest

from connectors.demo import DemoMarket
from detectors import registry
from detectors.records import validate_candle

pytestmark = pytest.mark.unit

START = 1_700_000_040_000


def series(market: DemoMarket, minutes: int) -> list:
    return market.history(minutes)


def test_same_seed_same_market_and_every_candle_valid():
    a = series(DemoMarket(12, seed=3, start_ms=START), 200)
    b = series(DemoMarket(12, seed=3, start_ms=START), 200)
    c = series(DemoMarket(12, seed=4, start_ms=START), 200)
    assert a == b
    assert a != c
    for minute in a:
        for candle in minute:
            validate_candle(candle)
    # closed, consecutive, aligned minutes, all symbols every minute
    opens = [m[0].open_time for m in a]
    assert opens == list(range(START - 200 * 60_000, START, 60_000))
    assert all(len(m) == 12 for m in a)


def test_market_looks_real_enough_to_scan():
    market = DemoMarket(40, seed=7, start_ms=START)
    hist = series(market, 600)
    surges = 0
    flat_zero = 0
    vol_of_vol = []
    for i in range(40):
        bars = [m[i] for m in hist]
        close = np.array([b.close for b in bars])
        rets = np.diff(np.log(close))
        # volatility clustering: |returns| are autocorrelated
        a = np.abs(rets)
        vol_of_vol.append(np.corrcoef(a[:-1], a[1:])[0, 1])
        flat_zero += sum(b.volume == 0 and b.high == b.low for b in bars)
        import pandas as pd

        df = pd.DataFrame({"open_time": [b.open_time for b in bars], "open": [b.open for b in bars],
                           "high": [b.high for b in bars], "low": [b.low for b in bars],
                           "close": close, "volume": [b.volume for b in bars]})
        surges += len(registry.create("volume_surge").run_batch(df))
    assert np.median(vol_of_vol) > 0.05, "no volatility clustering"
    assert flat_zero > 50, "illiquid symbols should print flat zero-volume bars"
    assert surges > 40, "the demo should give the volume-surge detector something to find"


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n_symbols"):
        DemoMarket(0)
