"""Registry of detectors: name -> class. Adding a detector is one new file plus one
line in ``_DETECTORS``. Classes are imported lazily so that listing names is free."""

from __future__ import annotations

import importlib
from typing import Any

from detectors.base import Bar, Detector, DetectorSet, SeriesMeta, frame_to_arrays
from detectors.records import Signal
from detectors.timeframes import infer_tf

_DETECTORS: dict[str, str] = {
    "volume_surge": "detectors.volume_surge:VolumeSurge",
    "mean_reversion": "detectors.mean_reversion:MeanReversion",
    "candle_clustering": "detectors.candle_clustering:CandleClustering",
    "momentum": "detectors.momentum:Momentum",
    "balanced_score": "detectors.balanced_score:BalancedScore",
    "vsa": "detectors.vsa:VSA",
    "weak_uptrend": "detectors.weak_uptrend:WeakUptrend",
    "pin_down": "detectors.pin_down:PinDown",
    "vsa_confluence": "detectors.vsa_confluence:VSAConfluence",
    "candlestick_patterns": "detectors.candlestick_patterns:CandlestickPatterns",
    "futures_consensus": "detectors.futures_consensus:FuturesConsensus",
    "trend_score": "detectors.trend_score:TrendScore",
    "levels": "detectors.levels:SupportResistance",
    "breakout": "detectors.breakout:Breakout",
    "retest": "detectors.retest:Retest",
}


class UnknownDetector(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown detector {name!r}; available: {', '.join(available())}")


def available() -> list[str]:
    """Names of every registered detector, sorted."""
    return sorted(_DETECTORS)


def detector_class(name: str) -> type[Detector]:
    try:
        target = _DETECTORS[name]
    except KeyError:
        raise UnknownDetector(name) from None
    module_name, _, cls_name = target.partition(":")
    cls: type[Detector] = getattr(importlib.import_module(module_name), cls_name)
    return cls


def create(name: str, **params: Any) -> Detector:
    """A new detector instance with validated parameters."""
    return detector_class(name)(**params)


def create_set(names: list[str] | None = None,
               params: dict[str, dict[str, Any]] | None = None) -> DetectorSet:
    """Detectors ``names`` (default: every registered one) for one series behind
    one front end; ``params`` maps a detector name to its parameters."""
    params = params or {}
    chosen = available() if names is None else list(names)
    unknown = sorted(set(params) - set(chosen))
    if unknown:
        raise ValueError(f"parameters given for detector(s) not in the set: {', '.join(unknown)}")
    return DetectorSet({name: create(name, **params.get(name, {})) for name in chosen})


def run_stream(name: str, frame: Any, *, exchange: str = "unknown", market: str = "spot",
               symbol: str = "UNKNOWN", tf: str | None = None, **params: Any) -> list[Signal]:
    """Feed ``frame`` bar by bar through ``update`` and return every signal;
    ``tf`` defaults to the frame's own timeframe, as in ``run_batch``."""
    det = create(name, **params)
    bars = frame_to_arrays(frame)
    det.meta = SeriesMeta(exchange, market, symbol, tf or infer_tf(bars.open_time))
    out: list[Signal] = []
    for i in range(len(bars)):
        out.extend(det.update_bar(Bar(int(bars.open_time[i]), float(bars.open[i]), float(bars.high[i]),
                                      float(bars.low[i]), float(bars.close[i]), float(bars.volume[i]))))
    return out
