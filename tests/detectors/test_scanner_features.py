"""The shared scanner features: streaming ScannerState == compiled ScannerSeries, bar
by bar and value by value, on real candles and with edge parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scanner_support import REAL_SERIES

from detectors.balanced_score import BalancedScoreParams
from detectors.base import frame_to_arrays
from detectors.features.clustering import cluster_metrics
from detectors.features.momentum import score_momentum
from detectors.features.reversion import reversion_votes_bound, score_reversion
from detectors.features.scanner import ScannerState, scanner_series

pytestmark = pytest.mark.unit

PARAMS = {
    "defaults": {},
    # peak window = volume window, long gain window, short lookback, 1 follower
    "edges": {"peak_lookback": 20, "gain_bars": 30, "change_bars": 2, "cluster_lookback": 4, "follow_bars": 1,
              "hv_mult": 1.2, "trend_ratio": 0.5, "follow_through_min": 0.0, "min_cluster_candles": 1,
              "streak_min": 2, "gain_pct": 0.5, "rsi_period": 3},
}


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("params", sorted(PARAMS))
@pytest.mark.parametrize("series", ["ftx_btc_perp_1m", "xrp_eth_1m"])
def test_streaming_state_equals_batch_series_on_every_bar(series: str, params: str) -> None:
    p = BalancedScoreParams(**PARAMS[params])
    bars = frame_to_arrays(REAL_SERIES[series]().iloc[:6000])
    arr = scanner_series(p, bars.open, bars.close, bars.volume, momentum=True, reversion=True)
    state = ScannerState(p, momentum=True, reversion=True)
    rs, rsign = arr.reversion_scores()
    seen = {"hv": 0, "trend": 0, "momentum": 0, "reversion": 0}
    for i, (o, c, v) in enumerate(zip(bars.open.tolist(), bars.close.tolist(), bars.volume.tolist(), strict=True)):
        state.update(o, c, v)
        assert same(state.mean, float(arr.mean[i])), i
        k = state.counts()
        assert k == arr.counts(i), i
        dom, _, _, formed, strength = cluster_metrics(p, k)
        assert (dom if formed else 0) == arr.trend[i] and strength == arr.strength[i], i
        seen["hv"] += k.hv != 0
        seen["trend"] += formed
        idx = np.array([i])
        assert state.momentum_ready() == arr.mom_ready[i], i
        if state.momentum_ready():
            inputs = state.momentum_inputs()
            assert inputs == arr.momentum_rows(idx)[0], i
            score, sign = score_momentum(p, *inputs)[:2]
            assert (score, sign) == (arr.mscore[i], arr.msign[i]), i
            seen["momentum"] += score > 0
        else:
            assert arr.mscore[i] == 0.0 and arr.msign[i] == 0
        assert state.reversion_ready() == arr.rev_ready[i], i
        if state.reversion_ready():
            inputs = state.reversion_inputs()
            assert inputs == arr.reversion_rows(idx)[0], i
            bear, bull = score_reversion(p, *inputs)[:2]
            assert (25.0 * max(bear, bull), np.sign(bull - bear)) == (rs[i], rsign[i]), i
            # the streaming shortcut bounds the votes from above
            move_pct = (c / inputs[6] - 1.0) * 100.0
            assert reversion_votes_bound(p, inputs[2], inputs[3], move_pct, inputs[7]) >= max(bear, bull), i
            seen["reversion"] += max(bear, bull) >= 2
    assert all(seen.values()), f"the series did not exercise every feature: {seen}"


def test_checkpointed_state_resumes_exactly() -> None:
    p = BalancedScoreParams()
    bars = frame_to_arrays(REAL_SERIES["ada_btc_5m"]().iloc[:3000])
    rows = list(zip(bars.open.tolist(), bars.close.tolist(), bars.volume.tolist(), strict=True))
    a = ScannerState(p, momentum=True, reversion=True)
    for r in rows[:1500]:
        a.update(*r)
    b = ScannerState(p, momentum=True, reversion=True)
    b.restore(a.snapshot())
    for r in rows[1500:]:
        a.update(*r)
        b.update(*r)
        assert a.snapshot() == b.snapshot()
    assert a.momentum_inputs() == b.momentum_inputs() and a.reversion_inputs() == b.reversion_inputs()
