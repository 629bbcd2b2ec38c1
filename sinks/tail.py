"""Follow a lake dataset: which data files were committed since the last look.

Built on the sink's exactly-once layout: a file is committed once the progress
marker of its topic-partition reaches the file's first offset (which its name
carries), and committed files never change. A :class:`LakeTail` remembers each
partition's marker; when one moves from ``a`` to ``b`` the new files are those
of that partition with a first offset in ``(a, b]`` (orphans, beyond the
marker, are never reported). Cheap when nothing changes: it reads only the
``_progress`` directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sinks.datasets import DATASETS
from sinks.lake import PROGRESS_DIR, parse_data_file_name


class LakeTail:
    """New committed files of one dataset (default ``signals``). No I/O in
    the constructor; the first :meth:`poll` only records where things are
    (returns nothing) unless ``from_start`` is set."""

    def __init__(self, lake_dir: str | os.PathLike[str], dataset: str = "signals", *,
                 from_start: bool = False) -> None:
        if dataset not in DATASETS:
            raise KeyError(f"unknown lake dataset {dataset!r}; known: {', '.join(DATASETS)}")
        self.lake_dir = Path(lake_dir)
        self.dataset = DATASETS[dataset]
        self._markers: dict[tuple[str, int], int] | None = {} if from_start else None

    def _read_markers(self) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        progress = self.lake_dir / PROGRESS_DIR
        if not progress.is_dir():
            return out
        for entry in os.scandir(progress):
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                data = json.loads(Path(entry.path).read_text())
            except FileNotFoundError:
                continue  # replaced between listing and reading; next poll sees it
            topic, partition, last = data.get("topic"), data.get("partition"), data.get("last_offset")
            if not isinstance(topic, str) or not isinstance(partition, int) or not isinstance(last, int):
                raise ValueError(f"progress marker {entry.path} lacks topic/partition/last_offset")
            if data.get("dataset", self.dataset.name) == self.dataset.name:
                out[(topic, partition)] = last
        return out

    def poll(self) -> list[Path]:
        """Files committed since the previous call, oldest first per partition."""
        markers = self._read_markers()
        previous = self._markers
        self._markers = markers
        if previous is None:
            return []
        moved = {k: (previous.get(k, -1), v) for k, v in markers.items() if v != previous.get(k, -1)}
        if not moved:
            return []
        root = self.lake_dir / self.dataset.name
        found: list[tuple[int, Path]] = []
        if root.is_dir():
            for dirpath, _dirs, files in os.walk(root):
                for name in files:
                    parsed = parse_data_file_name(name)
                    if parsed is None:
                        continue
                    topic, partition, first = parsed
                    span = moved.get((topic, partition))
                    if span is not None and span[0] < first <= span[1]:
                        found.append((first, Path(dirpath) / name))
        return [p for _first, p in sorted(found)]
