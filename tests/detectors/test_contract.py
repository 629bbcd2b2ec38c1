"""The detector contract, checked for every registered detector on real candles.

Parametrized over ``detectors.registry.available()``, so a detector added to the
registry is covered without touching this file. What every detector must do
(DESIGN.md, detectors/base.py):

* streaming (``update`` bar by bar) == batch (``run_batch``), every signal field
  but ``emitted_at``, on real data with gaps, flat bars, zero volume and
  damaged rows;
* no signal until ``warmup`` valid bars (the current one included) have been
  seen, none for a missing/invalid bar;
* the same candle twice is idempotent, an older candle changes nothing, a
  corrected last bar equals having seen the corrected bar in the first place;
* ``get_state``/``set_state`` resume exactly; state stays bounded over 100,000
  bars.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pytest
from market_data import bad_row_positions, load, tiled, with_bad_rows

import detectors.indicators as indicators
from detectors import registry
from detectors.base import Bar, frame_to_arrays
from detectors.records import Candle, Signal, validate_signal

pytestmark = pytest.mark.unit

DETECTORS = registry.available()
META = {"exchange": "binance", "market": "spot", "symbol": "POWR/BTC", "tf": "1m"}

#: real series (name, rows) the equality tests run on
SERIES = [("bittrex_powr_btc_1m", 3000), ("binance_powr_btc_1m_zero_volume", None),
          ("ftx_btc_perp_1m", 3000), ("binance_xrp_eth_1m", None), ("jesse_eth_1d", None)]


def frame_for(series: str, rows: int | None) -> pd.DataFrame:
    df = load(series)
    return df.iloc[:rows].reset_index(drop=True) if rows else df


def tf_of(frame: pd.DataFrame) -> str:
    step = int(np.median(np.diff(frame["open_time"].to_numpy())))
    return {60_000: "1m", 3_600_000: "1h", 86_400_000: "1d"}.get(step, "1m")


def comparable(signals: list[Signal]) -> list[bytes]:
    """Every field but emitted_at, as canonical JSON (NaN-safe, exact floats)."""
    out = []
    for s in signals:
        d = msgspec.structs.asdict(s)
        d.pop("emitted_at")
        out.append(msgspec.json.encode(d, order="sorted"))
    return out


def bars_of(frame: pd.DataFrame) -> list[Bar]:
    """All rows as bars, invalid ones included (the detector must skip them)."""
    cols = [frame[k].to_numpy() for k in ("open_time", "open", "high", "low", "close", "volume")]
    return [Bar(int(t), float(o), float(h), float(lo), float(c), float(v)) for t, o, h, lo, c, v in zip(*cols, strict=True)]


def candle(bar: Bar, tf: str = "1m") -> Candle:
    return Candle(exchange=META["exchange"], market=META["market"], symbol=META["symbol"], tf=tf,
                  open_time=bar.open_time, close_time=bar.open_time + 59_999, open=bar.open,
                  high=bar.high, low=bar.low, close=bar.close, volume=bar.volume,
                  event_time=bar.open_time + 59_999, received_at=bar.open_time + 60_000)


def stream(name: str, bars: list[Bar], tf: str = "1m") -> tuple[Any, list[Signal], list[int]]:
    """Feed ``bars`` through ``update(candle)``; return the detector, the signals
    and, per signal, the index of the valid bar whose update emitted it."""
    det = registry.create(name)
    out: list[Signal] = []
    at: list[int] = []
    valid = 0
    for b in bars:
        sigs = det.update(candle(b, tf))
        if det.last_open_time == b.open_time and det._last_bar == b:
            valid += 1
        out.extend(sigs)
        at.extend([valid - 1] * len(sigs))
    return det, out, at


def batch(name: str, frame: pd.DataFrame, tf: str = "1m") -> list[Signal]:
    return registry.create(name).run_batch(frame, tf=tf, **{k: v for k, v in META.items() if k != "tf"})


# ---- streaming == batch ---------------------------------------------------------

@pytest.mark.parametrize(("series", "rows"), SERIES, ids=[s for s, _ in SERIES])
@pytest.mark.parametrize("name", DETECTORS)
def test_streaming_equals_batch_on_real_candles(name: str, series: str, rows: int | None) -> None:
    frame = frame_for(series, rows)
    tf = tf_of(frame)
    _, streamed, _ = stream(name, bars_of(frame), tf)
    batched = batch(name, frame, tf)
    assert comparable(streamed) == comparable(batched), (
        f"{name} on {series}: streaming gave {len(streamed)} signals, batch {len(batched)}")
    for s in streamed:
        validate_signal(s)
        assert s.detector == name and s.tf == tf and s.symbol == META["symbol"]


@pytest.mark.parametrize("name", DETECTORS)
def test_damaged_rows_never_crash_never_signal_and_paths_agree(name: str) -> None:
    frame = with_bad_rows(frame_for("bittrex_powr_btc_1m", 3000), every=37)
    bad = set(bad_row_positions(frame).tolist())
    assert len(bad) > 50
    _, streamed, _ = stream(name, bars_of(frame))
    batched = batch(name, frame)
    assert comparable(streamed) == comparable(batched)
    assert not [s.open_time for s in streamed if s.open_time in bad], f"{name} signalled on a missing bar"


@pytest.mark.parametrize("name", DETECTORS)
def test_warmup_is_honoured(name: str) -> None:
    frame = frame_for("ftx_btc_perp_1m", 3000)
    det, signals, at = stream(name, bars_of(frame))
    assert isinstance(det.warmup, int) and det.warmup >= 0
    # bar index i means i + 1 valid bars seen, the current one included
    early = [(i, s.signal_type) for i, s in zip(at, signals, strict=True) if i + 1 < det.warmup]
    assert not early, f"{name}: signals before {det.warmup} warm-up bars: {early[:3]}"
    short = frame.iloc[: max(det.warmup - 1, 0)]
    assert batch(name, short) == [] and stream(name, bars_of(short))[1] == []


# ---- idempotency ------------------------------------------------------------------

@pytest.mark.parametrize("name", DETECTORS)
def test_same_candle_twice_is_idempotent(name: str) -> None:
    bars = bars_of(frame_for("bittrex_powr_btc_1m", 1500))
    ref_det, ref, _ = stream(name, bars)
    det = registry.create(name)
    got: list[Signal] = []
    for b in bars:
        first = det.update(candle(b))
        again = det.update(candle(b))
        assert comparable(again) == comparable(first)
        assert [s.id for s in again] == [s.id for s in first]
        got.extend(first)
    assert comparable(got) == comparable(ref)
    assert det.get_state() == ref_det.get_state()


@pytest.mark.parametrize("name", DETECTORS)
def test_older_candle_changes_nothing(name: str) -> None:
    bars = bars_of(frame_for("ftx_btc_perp_1m", 1500))
    _, ref, _ = stream(name, bars)
    det = registry.create(name)
    got: list[Signal] = []
    for i, b in enumerate(bars):
        got.extend(det.update(candle(b)))
        if i >= 10 and i % 25 == 0:
            before = det.get_state()
            old = bars[i - 7]
            late = Bar(old.open_time, old.open, old.high * 1.05, old.low, old.close, old.volume * 9)
            stale = det.stale_candles
            assert det.update(candle(late)) == []
            assert det.stale_candles == stale + 1  # counted, and nothing else changes
            det.stale_candles = stale
            assert det.get_state() == before
            det.stale_candles = stale + 1
    assert comparable(got) == comparable(ref)
    assert det.stale_candles == len(range(25, len(bars), 25))


@pytest.mark.parametrize("name", DETECTORS)
def test_corrected_last_bar_equals_seeing_the_correction_first(name: str) -> None:
    bars = bars_of(frame_for("ftx_btc_perp_1m", 1200))
    _, ref, _ = stream(name, bars)
    det = registry.create(name)
    got: list[Signal] = []
    for i, b in enumerate(bars):
        if i % 10 == 5:  # a provisional version first, then the final one
            det.update(candle(Bar(b.open_time, b.open, b.high * 1.02, b.low * 0.98, b.close * 1.01, b.volume * 3)))
        got.extend(det.update(candle(b)))
    assert comparable(got) == comparable(ref)


@pytest.mark.parametrize("name", DETECTORS)
def test_checkpoint_restore_resumes_exactly(name: str) -> None:
    bars = bars_of(frame_for("bittrex_powr_btc_1m", 2000))
    det = registry.create(name)
    for b in bars[:1200]:
        det.update(candle(b))
    blob = det.get_state()
    assert isinstance(blob, bytes)
    restored = registry.create(name)
    restored.set_state(blob)
    a = [s for b in bars[1200:] for s in det.update(candle(b))]
    r = [s for b in bars[1200:] for s in restored.update(candle(b))]
    assert comparable(a) == comparable(r)


# ---- bounded state --------------------------------------------------------------------

def _sizes(obj: Any, prefix: str = "", depth: int = 0, seen: set[int] | None = None) -> dict[str, int]:
    """Length of every container reachable from ``obj``'s attributes (a few levels)."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 4:
        return {}
    seen.add(id(obj))
    out: dict[str, int] = {}
    attrs: dict[str, Any] = {}
    if hasattr(obj, "__dict__"):
        attrs.update(vars(obj))
    for slot in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, slot):
            attrs[slot] = getattr(obj, slot)
    for k, v in attrs.items():
        key = f"{prefix}{k}"
        if isinstance(v, (list, deque, dict, set, tuple, bytes, str)):
            out[key] = len(v)
            if isinstance(v, (list, deque, tuple)) and v and not isinstance(v[0], (int, float, str, bytes)):
                for j, item in enumerate(list(v)[:3]):
                    out.update(_sizes(item, f"{key}[{j}].", depth + 1, seen))
        elif isinstance(v, np.ndarray):
            out[key] = v.size
        elif hasattr(v, "__dict__") or hasattr(type(v), "__slots__"):
            if not isinstance(v, (int, float, str, bytes, type)) and not callable(v):
                out.update(_sizes(v, f"{key}.", depth + 1, seen))
    return out


@pytest.mark.parametrize("name", DETECTORS)
def test_state_stays_bounded_over_100k_bars(name: str) -> None:
    frame = tiled(100_000)
    arr = frame_to_arrays(frame)
    det = registry.create(name)
    det.meta = None
    cols = [arr.open_time.tolist(), arr.open.tolist(), arr.high.tolist(), arr.low.tolist(),
            arr.close.tolist(), arr.volume.tolist()]
    early: list[tuple[int, dict[str, int]]] = []
    late: list[tuple[int, dict[str, int]]] = []
    for i, row in enumerate(zip(*cols, strict=True)):
        det.update_bar(Bar(*row))
        if i >= 10_000 and i % 2_500 == 0 or i == len(arr) - 1:
            (early if i <= 50_000 else late).append((len(det.get_state()), _sizes(det)))
    # bounded state may fluctuate (levels found, patterns pending) but must not
    # trend upward: a list that grows per bar would double between 50k and 100k
    e_max = max(s for s, _ in early)
    l_max = max(s for s, _ in late)
    assert l_max <= 1.25 * e_max + 512, f"{name}: checkpoint grew from <= {e_max} to {l_max} bytes"
    keys = {k for _, c in late for k in c}
    grew = {}
    for k in keys:
        e = max(c.get(k, 0) for _, c in early)
        lt = max(c.get(k, 0) for _, c in late)
        if lt > 1.25 * e + 64:
            grew[k] = (e, lt)
    assert not grew, f"{name}: containers grew between 50k and 100k bars: {grew}"


# ---- indicators ----------------------------------------------------------------------

ISSUE_NAMES = ["sma", "ema", "wma", "rsi", "atr", "natr", "macd", "stochrsi", "obv", "bbands",
               "bb_width", "adx", "supertrend", "vwap", "heikin_ashi", "rolling_zscore", "rolling_corr"]


def test_indicator_package_exports_every_issue_name() -> None:
    for n in ISSUE_NAMES:
        assert callable(getattr(indicators, n)), n
    assert sorted(indicators.INDICATORS) == sorted(ISSUE_NAMES)


@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_indicator_streaming_equals_vectorized_on_damaged_real_rows(name: str) -> None:
    """The detector-facing guarantee for indicators: after the base class drops
    invalid rows, incremental and vectorized forms agree exactly."""
    spec = indicators.INDICATORS[name]
    arr = frame_to_arrays(with_bad_rows(frame_for("bittrex_powr_btc_1m", 4000), every=29))
    cols = {"open": arr.open, "high": arr.high, "low": arr.low, "close": arr.close,
            "volume": arr.volume, "open_time": arr.open_time, "other": np.r_[arr.close[:3], arr.close[:-3]]}
    vec = spec.function(*(cols[k] for k in spec.inputs), **spec.params)
    vec = vec if isinstance(vec, tuple) else (vec,)
    obj = spec.cls(**spec.params)
    rows = []
    for vals in zip(*(cols[k].tolist() for k in spec.inputs), strict=True):
        v = obj.update(*vals)
        rows.append(v if isinstance(v, tuple) else (v,))
    for a, b in zip(vec, np.array(rows).T, strict=True):
        assert np.array_equal(a, b, equal_nan=True)
