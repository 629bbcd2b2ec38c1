"""The lake sink: Kafka topics into hive-partitioned parquet, exactly once.

Layout (see docs/lake.md)::

    <lake>/candles/exchange=<x>/tf=<tf>/date=<YYYY-MM-DD>/part-<topic>-<partition>-<firstoffset>.parquet
    <lake>/signals/exchange=<x>/tf=<tf>/date=<YYYY-MM-DD>/part-...
    <lake>/deadletter/date=<YYYY-MM-DD>/part-...
    <lake>/_progress/<topic>-<partition>.json        {"last_offset": N, ...}

Exactly-once into the lake on top of at-least-once Kafka:

1. :meth:`LakeSink.flush` writes each data file to a hidden temporary name,
   fsyncs it, renames it into place and fsyncs the directory.
2. Only then the partition's progress marker is replaced the same way
   (temporary file, fsync, rename). A flush of partition P covering offsets
   ``[first, last]`` names all its files ``part-<topic>-<P>-<first>`` and
   moves the marker to ``last``.
3. The runner commits consumer offsets after that; the commit is a courtesy
   for lag monitoring. The lake is the source of truth: on assignment,
   :meth:`LakeSink.assign` deletes files of the partition whose first offset
   is beyond the marker (left by a crash between steps 1 and 2) and resumes
   at ``marker + 1``.

Signals may be published twice by a worker (at-least-once); the sink keeps a
bounded set of recent signal ids, seeded from the lake's newest signal files
(only files covered by a marker), and drops repeats, so each id is stored once.
Candles are not deduplicated here: corrections are legitimate new versions;
the ``candles`` view of :mod:`sinks.catalog` keeps the latest ``received_at``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sinks.base import Sink, SinkBatch, SinkError, TopicPartition
from sinks.datasets import DATASETS, DEADLETTER, Dataset, dataset_for_topic
from streams.records import DeadLetter, RecordError, dead_letter

log = logging.getLogger("scanflow.sinks.lake")

PROGRESS_DIR = "_progress"
SOURCE = "sink.lake"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _partition_dir_value(value: Any) -> str:
    """A hive directory value: safe for a path, readable for the common case."""
    text = str(value)
    if not text:
        raise SinkError("partition", None, "empty partition value")
    return quote(text, safe="-_.:")  # keeps 1m, 2024-01-01, binance; escapes '/', '=', ' '


def data_file_name(topic: str, partition: int, first_offset: int) -> str:
    return f"part-{topic}-{partition}-{first_offset}.parquet"


def parse_data_file_name(name: str) -> tuple[str, int, int] | None:
    """``part-<topic>-<partition>-<first>.parquet`` -> (topic, partition, first)."""
    if not (name.startswith("part-") and name.endswith(".parquet")):
        return None
    stem = name[len("part-"):-len(".parquet")]
    parts = stem.rsplit("-", 2)
    if len(parts) != 3:
        return None
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except ValueError:
        return None


class RecentIds:
    """A bounded memory of ids in two generations: ids are added to the
    current set; when it holds half the capacity it becomes the previous one
    (the older previous is forgotten). Remembers at least the last
    ``capacity // 2`` ids, never more than ``capacity``; set operations keep
    batch checks in C."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 1:
            raise ValueError(f"RecentIds capacity must be at least 2, got {capacity}")
        self.capacity = capacity
        self._half = capacity // 2
        self._current: set[str] = set()
        self._previous: set[str] = set()

    def __contains__(self, key: object) -> bool:
        return key in self._current or key in self._previous

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def seen_of(self, ids: set[str]) -> set[str]:
        """The members of ``ids`` already remembered."""
        return (ids & self._current) | (ids & self._previous)

    def update(self, ids: Iterable[str]) -> None:
        pending = list(ids)
        while pending:
            room = self._half - len(self._current)
            self._current.update(pending[:room])
            pending = pending[room:]
            if len(self._current) >= self._half:
                self._previous, self._current = self._current, set()

    def add(self, key: str) -> None:
        self.update([key])


@dataclass
class _Pending:
    """Rows of one topic-partition buffered since the last flush."""

    dataset: Dataset
    first_offset: int
    last_offset: int
    frames: list[pl.DataFrame] = field(default_factory=list)
    rows: int = 0


@dataclass
class LakeStats:
    rows_written: int = 0
    files_written: int = 0
    duplicates_dropped: int = 0
    rejected: int = 0
    orphans_removed: int = 0
    redelivered_skipped: int = 0
    flushes: int = 0
    seeded_ids: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class LakeSink(Sink):
    """Hive-partitioned parquet lake with per-partition progress markers.

    ``recent_ids`` bounds the duplicate-signal memory (ids, not rows);
    ``seed_days`` is how many of the newest ``date=`` partitions of the
    signal datasets are read at assignment to seed it. ``compression`` is the
    parquet codec. ``topic_prefix`` namespaces the topics (``staging.`` reads
    ``staging.md.candles``); the datasets are chosen by the name after it.
    No I/O happens in the constructor.
    """

    name = "lake"

    def __init__(self, lake_dir: str | os.PathLike[str], *, recent_ids: int = 1_000_000,
                 seed_days: int = 2, compression: str = "zstd", fsync: bool = True,
                 topic_prefix: str = "", writer_threads: int = 4) -> None:
        self.lake_dir = Path(lake_dir)
        self.topic_prefix = topic_prefix
        self.writer_threads = writer_threads
        self._pool: ThreadPoolExecutor | None = None
        self.seed_days = seed_days
        self.compression = compression
        self.fsync = fsync
        self._pending: dict[TopicPartition, _Pending] = {}
        self._recent: dict[str, RecentIds] = {}
        self._recent_capacity = recent_ids
        self._seeded: set[str] = set()
        self._broken: str | None = None
        #: next offset expected per assigned partition (None: anything, the lake has none)
        self._next: dict[TopicPartition, int | None] = {}
        self.stats_ = LakeStats()

    # -- paths -------------------------------------------------------------
    def progress_path(self, tp: TopicPartition) -> Path:
        return self.lake_dir / PROGRESS_DIR / f"{tp.topic}-{tp.partition}.json"

    def read_marker(self, tp: TopicPartition) -> int | None:
        """Last offset of ``tp`` durably in the lake, or ``None``."""
        path = self.progress_path(tp)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SinkError("read_marker", tp, f"progress marker {path} is unreadable: {exc}") from exc
        last = data.get("last_offset")
        if not isinstance(last, int):
            raise SinkError("read_marker", tp, f"progress marker {path} has no integer last_offset")
        return last

    def _data_files(self, dataset: Dataset) -> Iterator[tuple[Path, str, int, int]]:
        """Every data file of ``dataset``: (path, topic, partition, first offset)."""
        root = self.lake_dir / dataset.name
        if not root.is_dir():
            return
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                parsed = parse_data_file_name(name)
                if parsed is not None:
                    yield Path(dirpath) / name, *parsed

    def _temp_files(self, dataset: Dataset) -> Iterator[Path]:
        root = self.lake_dir / dataset.name
        if not root.is_dir():
            return
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if name.startswith(".part-") and name.endswith(".tmp"):
                    yield Path(dirpath) / name

    # -- assignment and recovery -------------------------------------------
    def assign(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Recover each partition to its marker and say where to resume.

        Removes temporary files and data files beyond the marker (a crash
        between data write and marker write), then seeds the duplicate-id
        memory from the committed signal files. Returns ``marker + 1``, or
        ``None`` (read from the beginning) for a partition the lake has never
        seen."""
        tps = list(partitions)
        if self._broken is not None:
            # a flush failed part-way: forget everything in memory, the lake decides
            log.warning("lake sink recovering from a failed flush (%s)", self._broken)
            self._pending.clear()
            self._recent.clear()
            self._broken = None
        markers = {tp: self.read_marker(tp) for tp in tps}
        by_dataset: dict[str, list[TopicPartition]] = {}
        for tp in tps:
            try:
                by_dataset.setdefault(self.dataset_for(tp.topic).name, []).append(tp)
            except KeyError as exc:
                raise SinkError("assign", tp, str(exc)) from None
        for ds_name, ds_tps in by_dataset.items():
            dataset = DATASETS[ds_name]
            wanted = {(tp.topic, tp.partition): markers[tp] for tp in ds_tps}
            for path in list(self._temp_files(dataset)):
                path.unlink(missing_ok=True)
            for path, topic, partition, first in list(self._data_files(dataset)):
                key = (topic, partition)
                if key not in wanted:
                    continue
                marker = wanted[key]
                if marker is None or first > marker:
                    log.warning("removing orphan lake file %s (first offset %d beyond progress marker %s of %s[%d])",
                                path, first, marker, topic, partition)
                    path.unlink()
                    self.stats_.orphans_removed += 1
            if dataset.dedupe_key is not None:
                self._seed_recent_ids(dataset)
        positions = {tp: (None if m is None else m + 1) for tp, m in markers.items()}
        for tp in tps:
            self._pending.pop(tp, None)
            self._next[tp] = positions[tp]
        return positions

    def _recent_for(self, dataset: Dataset) -> RecentIds:
        rec = self._recent.get(dataset.name)
        if rec is None:
            rec = self._recent[dataset.name] = RecentIds(self._recent_capacity)
        return rec

    def _seed_recent_ids(self, dataset: Dataset) -> None:
        """Read ids of the newest ``seed_days`` date partitions, counting only
        files a progress marker covers (an orphan of a partition owned by
        another member must not hide a signal we are about to re-read)."""
        assert dataset.dedupe_key is not None
        files = list(self._data_files(dataset))
        if not files:
            return
        dates = sorted({p.parent.name for p, *_ in files if p.parent.name.startswith("date=")})
        keep_dates = set(dates[-self.seed_days:]) if self.seed_days > 0 else set()
        markers: dict[tuple[str, int], int | None] = {}
        recent = self._recent_for(dataset)
        seeded = 0
        for path, topic, partition, first in sorted(files, key=lambda f: (f[0].parent.name, f[3])):
            if path.parent.name not in keep_dates:
                continue
            key = (topic, partition)
            if key not in markers:
                markers[key] = self.read_marker(TopicPartition(topic, partition))
            marker = markers[key]
            if marker is None or first > marker:
                continue
            try:
                ids = pq.read_table(path, columns=[dataset.dedupe_key]).column(0).to_pylist()
            except (OSError, pa.ArrowException) as exc:
                raise SinkError("seed_ids", TopicPartition(topic, partition), f"cannot read {path}: {exc}") from exc
            recent.update(ids)
            seeded += len(ids)
        self.stats_.seeded_ids += seeded
        self._seeded.add(dataset.name)

    # -- writing -----------------------------------------------------------
    def write(self, batch: SinkBatch) -> list[DeadLetter]:
        """Decode, validate and deduplicate ``batch``; buffer the rows until
        :meth:`flush`. Returns dead letters for records that failed to decode or
        validate (records of the ``deadletter`` topic itself that fail are kept
        in the lake as dead letters of the sink instead, never re-published)."""
        tp = batch.tp
        self._check_usable("write", tp)
        try:
            dataset = self.dataset_for(tp.topic)
        except KeyError as exc:
            raise SinkError("write", tp, str(exc)) from None
        if tp not in self._next:
            raise SinkError("write", tp, "partition is not assigned to this sink; call assign() first")
        msgs = batch.messages
        expected = self._next[tp]
        if expected is not None and msgs[0].offset < expected:
            # fetched before a rebalance moved the position back: already landed or buffered
            fresh = [m for m in msgs if m.offset >= expected]
            self.stats_.redelivered_skipped += len(msgs) - len(fresh)
            if not fresh:
                return []
            batch = SinkBatch(tp, fresh)
            msgs = batch.messages
        for prev, cur in zip(msgs, msgs[1:], strict=False):
            if cur.offset <= prev.offset:
                raise SinkError("write", tp, f"offsets not increasing in batch: {prev.offset} then {cur.offset}")
        self._next[tp] = msgs[-1].offset + 1
        offsets = [m.offset for m in msgs]
        decoded = dataset.decode(tp.topic, tp.partition, offsets, [m.value for m in msgs])
        frame = decoded.frame
        now = _now_ms()
        letters = [
            dead_letter(SOURCE, _with_topic(r.error, tp), msgs[r.index].value or b"", received_at=now,
                        topic=tp.topic, partition=tp.partition, offset=msgs[r.index].offset)
            for r in decoded.rejected
        ]
        self.stats_.rejected += len(letters)
        if letters and dataset is DEADLETTER:
            # a broken dead letter is stored as the sink's own dead letter
            kept = DEADLETTER.frame_of(letters, tp.topic, tp.partition, [d.offset or 0 for d in letters])
            frame = pl.concat([frame, kept], how="vertical")
            letters = []
        if dataset.dedupe_key is not None and frame.height:
            frame = self._drop_duplicates(dataset, frame)
        pending = self._pending.get(tp)
        if pending is None:
            pending = self._pending[tp] = _Pending(dataset, batch.first_offset, batch.last_offset)
        pending.last_offset = batch.last_offset
        if frame.height:
            pending.frames.append(frame)
            pending.rows += frame.height
        return letters

    def dataset_for(self, topic: str) -> Dataset:
        """The dataset of ``topic`` (after the topic prefix); KeyError if none."""
        if self.topic_prefix:
            if not topic.startswith(self.topic_prefix):
                raise KeyError(f"topic {topic!r} lacks the sink's topic prefix {self.topic_prefix!r}")
            topic = topic[len(self.topic_prefix):]
        return dataset_for_topic(topic)

    def _check_usable(self, step: str, tp: TopicPartition | None) -> None:
        if self._broken is not None:
            raise SinkError(step, tp, f"an earlier flush failed ({self._broken}); call assign() to recover "
                                      "from the lake before writing again")

    def _drop_duplicates(self, dataset: Dataset, frame: pl.DataFrame) -> pl.DataFrame:
        """Drop rows whose id repeats within the frame or was seen recently."""
        assert dataset.dedupe_key is not None
        recent = self._recent_for(dataset)
        ids = frame.get_column(dataset.dedupe_key)
        keep = ids.is_first_distinct()
        seen = recent.seen_of(set(ids.to_list()))
        if seen:
            keep = keep & ~ids.is_in(list(seen))
        dropped = frame.height - int(keep.sum())
        if dropped:
            self.stats_.duplicates_dropped += dropped
            frame = frame.filter(keep)
        recent.update(frame.get_column(dataset.dedupe_key).to_list())
        return frame

    def pending_rows(self) -> int:
        return sum(p.rows for p in self._pending.values())

    def pending_messages(self) -> int:
        return sum(p.last_offset - p.first_offset + 1 for p in self._pending.values())

    def flush(self) -> dict[TopicPartition, int]:
        """Write every buffered partition: all data files first (temporary
        name, fsync, rename, fsync of each directory once), then the progress
        markers the same way. Returns ``{partition: next offset}``."""
        self._check_usable("flush", None)
        done: dict[TopicPartition, int] = {}
        try:
            jobs: list[tuple[TopicPartition, Path, str, pa.Table]] = []
            files = {tp: self._plan_data(tp, pending, jobs) for tp, pending in self._pending.items()}
            staged = self._write_files(jobs)
            self._publish(staged)
            markers: list[tuple[TopicPartition, Path, Path]] = []
            for tp, pending in self._pending.items():
                markers.append(self._write_marker(tp, pending, files[tp]))
            self._publish(markers)
            for tp, pending in self._pending.items():
                done[tp] = pending.last_offset + 1
                self.stats_.rows_written += pending.rows
            self._pending.clear()
        except BaseException as exc:
            # The lake may now hold files beyond a marker and the duplicate-id
            # memory ids that are not durable: only assign() may continue.
            self._broken = f"{type(exc).__name__}: {exc}"
            raise
        if done:
            self.stats_.flushes += 1
        return done

    def _publish(self, staged: list[tuple[TopicPartition, Path, Path]]) -> None:
        """Rename fsync'd temporary files into place, then fsync each directory once."""
        dirs: dict[Path, TopicPartition] = {}
        for tp, tmp, final in staged:
            try:
                os.replace(tmp, final)
            except OSError as exc:
                raise SinkError("rename", tp, f"{tmp} -> {final}: {exc}") from exc
            dirs.setdefault(final.parent, tp)
        if self.fsync:
            for d, tp in dirs.items():
                try:
                    _fsync_dir(d)
                except OSError as exc:
                    raise SinkError("fsync_dir", tp, f"{d}: {exc}") from exc

    def _write_files(self, jobs: list[tuple[TopicPartition, Path, str, pa.Table]]
                     ) -> list[tuple[TopicPartition, Path, Path]]:
        """Write and fsync the temporary files, several at a time (parquet
        encoding and fsync release the GIL; the disk merges concurrent syncs)."""
        for _tp, directory, _name, _table in jobs:
            self._make_dirs(directory)
        if len(jobs) > 1 and self.writer_threads > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.writer_threads, thread_name_prefix="lake-writer")
            tmps = list(self._pool.map(lambda j: self._write_parquet_tmp(*j), jobs))
        else:
            tmps = [self._write_parquet_tmp(*j) for j in jobs]
        return [(tp, tmp, directory / name) for (tp, directory, name, _t), tmp in zip(jobs, tmps, strict=True)]

    def _plan_data(self, tp: TopicPartition, pending: _Pending,
                   jobs: list[tuple[TopicPartition, Path, str, pa.Table]]) -> list[str]:
        """Split the partition's rows into one table per hive directory and
        add them to ``jobs``; returns the files' lake-relative paths."""
        if not pending.frames:
            return []
        dataset = pending.dataset
        frame = pl.concat(pending.frames, how="vertical") if len(pending.frames) > 1 else pending.frames[0]
        name = data_file_name(tp.topic, tp.partition, pending.first_offset)
        written: list[str] = []
        for values, part in frame.partition_by(list(dataset.partition_by), as_dict=True, maintain_order=True).items():
            rel = Path(dataset.name, *(f"{k}={_partition_dir_value(v)}" for k, v in zip(dataset.partition_by, values, strict=True)))
            jobs.append((tp, self.lake_dir / rel, name, dataset.to_arrow(part)))
            written.append(str(rel / name))
            self.stats_.files_written += 1
        return written

    def _make_dirs(self, directory: Path) -> None:
        missing = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        if not missing:
            return
        directory.mkdir(parents=True, exist_ok=True)
        if self.fsync:
            for created in reversed(missing):
                _fsync_dir(created.parent)

    def _write_parquet_tmp(self, tp: TopicPartition, directory: Path, name: str, table: pa.Table) -> Path:
        tmp = directory / f".{name}.tmp"
        try:
            with open(tmp, "wb") as fh:
                pq.write_table(table, fh, compression=self.compression)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
        except (OSError, pa.ArrowException) as exc:
            raise SinkError("write_parquet", tp, f"{directory / name}: {exc}") from exc
        return tmp

    def _write_marker(self, tp: TopicPartition, pending: _Pending, files: list[str]) -> tuple[TopicPartition, Path, Path]:
        """Write the partition's new progress marker to a temporary file, fsync'd."""
        path = self.progress_path(tp)
        body = {
            "topic": tp.topic, "partition": tp.partition, "dataset": pending.dataset.name,
            "first_offset": pending.first_offset, "last_offset": pending.last_offset,
            "rows": pending.rows, "files": files, "written_at": _now_ms(),
        }
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            self._make_dirs(path.parent)
            with open(tmp, "w") as fh:
                json.dump(body, fh)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
        except OSError as exc:
            raise SinkError("write_marker", tp, f"{path}: {exc}") from exc
        return tp, tmp, path

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._next.pop(tp, None)
            pending = self._pending.pop(tp, None)
            if pending is not None and pending.rows:
                # never silently: the runner flushes before revoking
                raise SinkError("revoke", tp, f"{pending.rows} rows still buffered; flush() before revoke()")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._pending:
            raise SinkError("close", None, f"{self.pending_rows()} rows of {len(self._pending)} partitions "
                                           "still buffered; flush() before close()")

    def stats(self) -> dict[str, Any]:
        return self.stats_.as_dict()


def _with_topic(error: RecordError, tp: TopicPartition) -> RecordError:
    """The same reason, with the topic-partition in the detail."""
    return RecordError(error.reason, f"{tp}: {error.detail}", field=error.field)

