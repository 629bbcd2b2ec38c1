"""The detector worker: a Faust app whose agent turns closed candles into signals.

Design (see DESIGN.md "Measured facts"): events are raw bytes decoded with
msgspec (not ``faust.Record``), processed in micro-batches (``take_events``),
detector state lives per key in memory and is checkpointed to a Faust table
once per key per batch, never once per event.

Ordering that makes at-least-once safe:

1. decode and validate every event of the batch; bad ones go to ``deadletter``;
2. update detectors (idempotent per candle, see ``detectors.base``);
3. send the batch's signals and wait until the broker acknowledged them;
4. only then checkpoint the touched keys' state in the table; Faust commits the
   source offsets after the batch is acknowledged.

A crash between 3 and 4 replays candles against older state: the same signals
come out again with the same deterministic ids (consumers drop duplicates). A
crash between 4 and the offset commit replays candles the state has already
seen: they are recognised as repeats and produce nothing new.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from typing import Any

import faust
import msgspec

from detectors import registry
from detectors.base import DetectorSet
from detectors.records import Candle, RecordError, decode_candle, encode
from scanflow.settings import Settings
from streams import topics
from streams.records import dead_letter

log = logging.getLogger("scanflow.worker")

STATE_TABLE = "detector_state"


class WorkerStats:
    """Counters for the status line; they count deliveries, not facts."""

    def __init__(self) -> None:
        self.candles = 0
        self.signals = 0
        self.deadletters = 0
        self.stale = 0
        self.batches = 0
        self.fresh_states = 0  # detector checkpoints that could not be restored
        self.started = time.monotonic()

    def as_dict(self) -> dict[str, Any]:
        return {"candles": self.candles, "signals": self.signals, "deadletters": self.deadletters,
                "stale": self.stale, "batches": self.batches, "fresh_states": self.fresh_states}


class SeriesState:
    """Detectors of one key (exchange:market:symbol): one :class:`DetectorSet` per timeframe."""

    def __init__(self, detector_names: list[str]) -> None:
        self.names = detector_names
        self.by_tf: dict[str, DetectorSet] = {}
        self.fresh: list[str] = []  # detectors whose checkpoint could not be restored

    def detectors_for(self, tf: str) -> DetectorSet:
        dets = self.by_tf.get(tf)
        if dets is None:
            dets = registry.create_set(self.names)
            self.by_tf[tf] = dets
        return dets

    def dump(self) -> bytes:
        """One :meth:`DetectorSet.get_state` checkpoint per timeframe (shared per-bar
        state once, beside its members)."""
        return msgspec.msgpack.encode({tf: dets.get_state() for tf, dets in self.by_tf.items()})

    @classmethod
    def load(cls, detector_names: list[str], blob: bytes, key: bytes = b"?") -> SeriesState:
        """State from a checkpoint. A detector whose checkpoint it cannot take (a
        new version or parameters with another state layout) starts fresh and
        warms up again; so does a whole timeframe whose checkpoint is not a
        detector set's (an older checkpoint format). Logged, never fatal for the
        worker."""
        st = cls(detector_names)
        data = msgspec.msgpack.decode(blob, type=dict[str, Any])
        where = key.decode(errors="replace")
        for tf, tf_blob in data.items():
            dets = st.detectors_for(tf)
            try:
                if not isinstance(tf_blob, bytes):
                    raise ValueError("checkpoint of an older format")
                failed = dets.set_state(tf_blob)
            except (ValueError, msgspec.DecodeError) as exc:
                st.by_tf[tf] = registry.create_set(st.names)
                st.fresh.extend(st.names)
                log.warning("worker: %s %s: checkpoint not restorable (%s); every detector starts fresh and "
                            "warms up again", where, tf, exc)
                continue
            for name, reason in failed:
                st.fresh.append(name)
                log.warning("worker: %s %s %s: checkpoint not restorable (%s); starting it fresh, "
                            "it warms up again", where, tf, name, reason)
        return st


def build_app(settings: Settings, *, app_id: str = "scanflow-worker") -> faust.App:
    """The Faust app with the detector agent; nothing connects until it runs."""
    detector_names = list(settings.detectors)
    for name in detector_names:
        registry.detector_class(name)  # fail fast on a typo, naming the known detectors
    (settings.data_dir / "worker").mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "worker"),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_ms / 5000),
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        producer_acks=-1,
        producer_max_batch_size=16384,
        web_enabled=False,
        stream_wait_empty=False,
        table_standby_replicas=0,
        key_serializer="raw",
        value_serializer="raw",
    )
    source = app.topic(topics.CANDLES_1M, topics.CANDLES, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw", partitions=settings.partitions)
    signal_topics = {
        name: app.topic(topics.signals_topic(name), key_serializer="raw", value_serializer="raw",
                        partitions=settings.partitions)
        for name in detector_names
    }
    deadletter = app.topic(topics.DEADLETTER, key_serializer="raw", value_serializer="raw", partitions=1)
    # The table is written directly (store + changelog send we await), not through
    # ``table[key] = ...``: Faust's send_soon buffer drains one message at a time and
    # made offset commits take seconds. The changelog partition of a key is the
    # partition its candles came from, as Faust itself would choose.
    table = app.Table(STATE_TABLE, default=None, key_type=bytes, value_type=bytes,
                      partitions=settings.partitions)
    cache: dict[bytes, SeriesState] = {}
    stats = WorkerStats()
    app.scanflow_stats = stats  # type: ignore[attr-defined]

    @app.on_partitions_revoked.connect
    async def _forget_state(app: faust.App, revoked: Any = None, **kwargs: Any) -> None:
        # another worker may own (and advance) some keys from now on: drop the
        # in-memory copies; the table (restored from its changelog) is the truth
        cache.clear()

    def state_for(key: bytes) -> SeriesState:
        st = cache.get(key)
        if st is None:
            blob = table.get(key)
            st = SeriesState.load(detector_names, blob, key) if blob else SeriesState(detector_names)
            stats.fresh_states += len(st.fresh)
            cache[key] = st
        return st

    async def dead(source_name: str, err: RecordError | str, raw: bytes, msg: Any) -> None:
        rec = dead_letter(source_name, err, raw or b"", received_at=time.time_ns() // 1_000_000,
                          topic=msg.topic, partition=msg.partition, offset=msg.offset)
        await deadletter.send(key=b"worker", value=encode(rec))
        stats.deadletters += 1

    @app.agent(source)
    async def detect(stream: Any) -> None:
        async for events in stream.take_events(settings.worker_batch_size, within=settings.worker_batch_ms / 1000):
            per_key: dict[bytes, list[Candle]] = defaultdict(list)
            partition_of: dict[bytes, int] = {}
            for event in events:
                msg = event.message
                raw = event.value
                try:
                    candle = decode_candle(raw)
                except RecordError as exc:
                    await dead("worker", exc, raw, msg)
                    continue
                key = candle.key.encode()
                if msg.key is not None and msg.key != key:
                    await dead("worker", RecordError("key_mismatch", f"message key {msg.key!r} != {key!r}"), raw, msg)
                    continue
                per_key[key].append(candle)
                partition_of[key] = msg.partition
            pending: list[Any] = []
            for key, candles in per_key.items():
                st = state_for(key)
                for candle in candles:
                    dets = st.detectors_for(candle.tf)
                    last = dets.last_open_time
                    for sig in dets.update(candle):
                        pending.append(await signal_topics[sig.detector].send(key=key, value=encode(sig)))
                    if last is not None and candle.open_time < last:
                        stats.stale += 1  # a late correction: state left alone (DESIGN's rule)
                    stats.candles += 1
            # wait for the broker to acknowledge the signals before the state moves on
            for fut in pending:
                await fut
            checkpoints = []
            for key in per_key:
                blob = cache[key].dump()
                table.data[key] = blob
                checkpoints.append(await table.changelog_topic.send(key=key, value=blob,
                                                                    partition=partition_of[key]))
            # the batch's events are acknowledged (and their offsets committable)
            # only after their state is on the broker
            for fut in checkpoints:
                await fut
            stats.signals += len(pending)
            stats.batches += 1

    stats_path = settings.data_dir / "worker" / f"stats-{os.getpid()}.json"

    @app.timer(interval=1.0)
    async def write_stats() -> None:
        # progress for `scanflow up`'s status table and the pipeline benchmark
        tmp = stats_path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(stats.as_dict() | {"pid": os.getpid(), "at": time.time()}))
        os.replace(tmp, stats_path)

    @app.timer(interval=10.0)
    async def report() -> None:
        log.info("worker: %s", stats.as_dict())

    return app


def run_worker(settings: Settings) -> None:
    """Run the worker until SIGINT/SIGTERM (blocking)."""
    from faust.worker import Worker

    app = build_app(settings)
    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


__all__ = ["build_app", "run_worker", "SeriesState", "WorkerStats"]
