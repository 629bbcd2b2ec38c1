"""Screener metrics against TA-Lib / numpy and hand-built volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import talib
from hand_candles import real

from detectors.base import frame_to_arrays
from detectors.screener_metrics import (
    atr_pct,
    bb_width_pct,
    btc_correlation,
    quote_volume_24h,
    resample,
    screener_metrics,
    volume_surge_1h,
)

pytestmark = pytest.mark.unit
M5 = 300_000


@pytest.fixture(scope="module")
def xrp():
    return frame_to_arrays(real("xrp_usdt_5m_futures"))


def test_atr_and_bb_width_match_talib(xrp):
    h, lo, c = xrp.high, xrp.low, xrp.close
    assert atr_pct(h, lo, c) == pytest.approx(100 * talib.ATR(h, lo, c, 14)[-1] / c[-1], rel=1e-9)
    up, mid, low = talib.BBANDS(c, 20, 2, 2, 0)
    assert bb_width_pct(c) == pytest.approx(100 * (up[-1] - low[-1]) / mid[-1], rel=1e-9)
    assert math.isnan(atr_pct(h[:14], lo[:14], c[:14]))
    assert math.isnan(bb_width_pct(c[:19]))


def test_resample_to_15m_matches_pandas(xrp):
    t15, o, h, lo, c, v = resample(xrp.open_time, xrp.open, xrp.high, xrp.low, xrp.close, xrp.volume, 900_000)
    assert np.all(t15 % 900_000 == 0)
    k = 10  # bucket 10 = 3 source bars
    src = (xrp.open_time >= t15[k]) & (xrp.open_time < t15[k] + 900_000)
    assert h[k] == xrp.high[src].max() and lo[k] == xrp.low[src].min() and v[k] == xrp.volume[src].sum()
    assert o[k] == xrp.open[src][0] and c[k] == xrp.close[src][-1]


def test_quote_volume_24h_window():
    t = np.arange(0, 2 * 288) * M5  # two days of 5m bars
    close = np.full(len(t), 2.0)
    vol = np.ones(len(t))
    assert quote_volume_24h(t, close, vol, tf_ms=M5) == pytest.approx(288 * 2.0)
    qv = np.full(len(t), 3.0)
    assert quote_volume_24h(t, close, vol, qv, tf_ms=M5) == pytest.approx(288 * 3.0)
    with pytest.raises(ValueError, match="volume has 3 values"):
        quote_volume_24h(t, close, vol[:3], tf_ms=M5)


def test_volume_surge_1h():
    t = np.arange(0, 25 * 12) * M5  # 25 hours
    vol = np.ones(len(t))
    vol[-12:] = 4.0  # last hour at 4x
    assert volume_surge_1h(t, vol, tf_ms=M5) == pytest.approx(4.0)
    assert math.isnan(volume_surge_1h(t[-100:], vol[-100:], tf_ms=M5))  # too little history
    assert math.isnan(volume_surge_1h(t, np.r_[np.zeros(len(t) - 12), vol[-12:]], tf_ms=M5))


def test_btc_correlation_aligns_on_open_time():
    rng = np.random.default_rng(7)
    n = 300
    t = np.arange(n) * M5
    r_btc = rng.normal(0, 0.01, n)
    btc = 100 * np.exp(np.cumsum(r_btc))
    alt = 5 * np.exp(np.cumsum(0.8 * r_btc + rng.normal(0, 0.005, n)))
    full = btc_correlation(t, alt, t, btc, window=1000)
    ref = np.corrcoef(np.diff(np.log(alt)), np.diff(np.log(btc)))[0, 1]
    assert full == pytest.approx(ref, rel=1e-12)
    # a gap in the alt series: misaligned returns would wreck the correlation
    keep = np.ones(n, dtype=bool)
    keep[100:110] = False
    gapped = btc_correlation(t[keep], alt[keep], t, btc, window=1000)
    assert gapped == pytest.approx(full, abs=0.05) and gapped > 0.7
    assert btc_correlation(t, btc, t, btc) == pytest.approx(1.0)
    assert math.isnan(btc_correlation(t[:2], alt[:2], t[:2], btc[:2]))


def test_screener_metrics_bundle(xrp):
    m = screener_metrics(xrp.open_time, xrp.open, xrp.high, xrp.low, xrp.close, xrp.volume, tf_ms=M5,
                         btc_open_time=xrp.open_time, btc_close=xrp.close)
    assert set(m) == {"quote_volume_24h", "atr_pct_5m", "atr_pct_15m", "bb_width_pct",
                      "volume_surge_1h", "btc_correlation"}
    assert m["btc_correlation"] == pytest.approx(1.0)
    assert m["atr_pct_15m"] > m["atr_pct_5m"] > 0
    assert m["quote_volume_24h"] > 0 and m["volume_surge_1h"] > 0
