"""Builders for tests and benchmarks of sinks: records from OHLCV rows, Kafka-like
messages from records, and a one-call lake writer. No Kafka, no network.

    candles = candles_from_ohlcv(rows, exchange="binance", symbol="ETH/BTC")
    signals = signals_for(candles[::50], detector="volume_surge")
    write_lake(lake_dir, {"md.candles.1m": candles, "signals.volume_surge": signals})
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from detectors.timeframes import tf_ms
from sinks.base import RawMessage, SinkBatch, TopicPartition
from sinks.lake import LakeSink
from streams.records import Candle, Signal, TradePlan, encode, params_hash, signal_id


def candles_from_ohlcv(rows: Iterable[Sequence[float]], *, exchange: str = "binance", market: str = "spot",
                       symbol: str = "BTC/USDT", tf: str = "1m", provenance: str = "replay",
                       received_delay_ms: int = 250) -> list[Candle]:
    """Candles from ``[open_time_ms, open, high, low, close, volume]`` rows."""
    length = tf_ms(tf)
    out = []
    for r in rows:
        t = int(r[0])
        out.append(Candle(exchange=exchange, market=market, symbol=symbol, tf=tf, open_time=t,
                          close_time=t + length - 1, open=float(r[1]), high=float(r[2]), low=float(r[3]),
                          close=float(r[4]), volume=float(r[5]), provenance=provenance,
                          event_time=t + length - 1, received_at=t + length - 1 + received_delay_ms))
    return out


def signals_for(candles: Iterable[Candle], *, detector: str = "volume_surge", version: str = "1",
                params: Mapping[str, Any] | None = None, with_plan: bool = True) -> list[Signal]:
    """One deterministic signal per candle (direction from the candle's body)."""
    ph = params_hash(dict(params or {"window": 20}))
    out = []
    for c in candles:
        direction = "bullish" if c.close >= c.open else "bearish"
        score = min(100.0, 50.0 + 5000.0 * abs(c.close - c.open) / c.open)
        plan = TradePlan(entry=c.close, stop=c.low, tp1=c.close + (c.close - c.low), tp2=c.close + 2 * (c.close - c.low),
                         eta_bars=5) if with_plan else None
        out.append(Signal(
            id=signal_id(c.exchange, c.market, c.symbol, c.tf, detector, c.open_time, version, ph),
            exchange=c.exchange, market=c.market, symbol=c.symbol, tf=c.tf, detector=detector,
            detector_version=version, params_hash=ph, open_time=c.open_time, event_time=c.close_time,
            emitted_at=c.received_at + 3, signal_type="VOLUME_SURGE", direction=direction,
            score=round(score, 3), price=c.close, features={"ratio": round(c.volume, 6), "window": 20},
            trade_plan=plan))
    return out


def messages(topic: str, values: Sequence[msgspec.Struct | bytes | None], *, partition: int = 0,
             start_offset: int = 0, timestamp: int = 0) -> list[RawMessage]:
    """Kafka-like messages: records are JSON-encoded, bytes/None passed as is."""
    out = []
    for i, v in enumerate(values):
        raw = v if v is None or isinstance(v, bytes) else encode(v)
        key = getattr(v, "key", None) if isinstance(v, msgspec.Struct) else None
        out.append(RawMessage(topic, partition, start_offset + i, key.encode() if isinstance(key, str) else None,
                              raw, timestamp))
    return out


def write_lake(lake_dir: str | os.PathLike[str], by_topic: Mapping[str, Sequence[msgspec.Struct | bytes]],
               *, partition: int = 0, fsync: bool = False) -> LakeSink:
    """Write ``{topic: records}`` through a :class:`LakeSink` (resuming at each
    partition's marker, as the runner would) and flush once. Returns the sink."""
    sink = LakeSink(lake_dir, fsync=fsync)
    tps = [TopicPartition(t, partition) for t in by_topic]
    start = sink.assign(tps)
    for tp in tps:
        values = by_topic[tp.topic]
        if values:
            sink.write(SinkBatch.of(messages(tp.topic, values, partition=partition, start_offset=start[tp] or 0)))
    sink.flush()
    return sink
