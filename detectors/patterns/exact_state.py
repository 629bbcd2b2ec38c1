"""Exact corrections and checkpoints for detectors with unbounded memory.

The base class rebuilds state after a corrected last bar by replaying the raw
``history`` it keeps, and checkpoints that history. That is exact only when a
detector's memory fits ``history_bars``. Detectors built on recursive indicators
(EMA, Wilder smoothing, Heikin Ashi) or on long-lived levels remember every bar
they ever saw, so replaying 64 bars would give a *different* state.

:class:`ExactStateMixin` fixes both with two small hooks a detector implements:

``_snapshot() -> tuple``
    A cheap copy of the whole streaming state (scalars and copies of the bounded
    ring buffers). Called before each ``_advance``.
``_restore(snapshot)``
    Put the state back exactly as it was.

and ``_advance(bar)`` in place of ``_step``. A snapshot is taken before every
``snapshot_every``-th bar and the bars advanced since are kept (at most
``snapshot_every`` of them), so the per-bar cost of undo support is amortized. A
corrected last bar restores the snapshot, replays the kept bars but the last one
and advances with the new values; a checkpoint holds the state after the last
bar plus that undo information (msgpack). Both are bit-exact.

Shared per-bar state. Detectors that compute the same per-bar state (the level
book of ``levels``/``breakout``/``retest``, the scanner features of the four
scanner detectors) name it with :meth:`ExactStateMixin.feed_spec`: a :class:`Feed`
class and the parameters it depends on. Alone, a detector keeps that state
privately (its snapshot includes it). In a :class:`detectors.base.DetectorSet`,
members with compatible specs are attached (:meth:`ExactStateMixin.attach_feed`)
to ONE feed that the set advances once per new bar before the members step; a
member then only reads the feed, and its snapshot holds only its own state.
Undo stays exact: the feed keeps its own amortized snapshot and replay; an
attached member undoes only its own state (none when it has none; amortized when
it can advance that state without the feed, ``_advance_own``; else a snapshot
before every bar). A corrected last bar rebuilds the feed first (restore +
replay), then each member (its own state back to before the last bar, then
``_advance`` with the corrected bar, reading the rebuilt feed). The set
checkpoints each feed once beside its members' states.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import msgspec

from detectors.base import Bar, SeriesMeta, now_ms
from detectors.records import Signal


class Feed(ABC):
    """Per-bar state shared by several members of one detector set. ``spec`` is
    every parameter the state depends on; ``state`` is the object members read."""

    #: bars between undo snapshots
    snapshot_every: int = 32
    state: Any

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = dict(spec)
        #: identifies the layout in checkpoints (a checkpoint of another one is refused)
        self.tag = f"{type(self).__name__}{sorted(self.spec.items())}"
        self._undo: Any = None
        self._replay: list[Bar] = []
        self._undo_left = 0

    @abstractmethod
    def advance(self, bar: Bar) -> None:
        """Advance the state by one valid bar."""

    @abstractmethod
    def snapshot(self) -> tuple[Any, ...]:
        """The whole state as immutable builtins."""

    @abstractmethod
    def restore(self, snap: tuple[Any, ...]) -> None:
        """Put ``snap`` back, in place (members hold a reference to ``state``)."""

    @property
    def last_bar(self) -> Bar | None:
        return self._replay[-1] if self._replay else None

    def step(self, bar: Bar) -> None:
        """Advance by a new bar, keeping what :meth:`rebuild_with` needs."""
        left = self._undo_left
        if left:
            self._undo_left = left - 1
            self._replay.append(bar)
        else:
            self._keep_undo(bar)
        self.advance(bar)

    def _keep_undo(self, bar: Bar) -> None:
        """A snapshot before ``bar``; the replay list starts with it."""
        self._undo = self.snapshot()
        self._replay = [bar]
        self._undo_left = self.snapshot_every - 1

    def rebuild_with(self, bar: Bar) -> None:
        """Replace the last bar by ``bar`` (a corrected last bar)."""
        replay = self._replay
        self.restore(self._undo)
        for b in replay[:-1]:
            self.advance(b)
        replay[-1] = bar
        self.advance(bar)

    def get_state(self) -> bytes:
        return msgspec.msgpack.encode(
            {"tag": self.tag, "state": self.snapshot(), "undo": self._undo, "replay": self._replay})

    def set_state(self, blob: bytes) -> None:
        data = msgspec.msgpack.decode(blob, type=dict[str, Any])
        if data["tag"] != self.tag:
            raise ValueError(f"checkpoint of {data['tag']!r}, not {self.tag!r}")
        replay = [msgspec.convert(b, Bar) for b in data["replay"]]
        undo = data["undo"]
        if (undo is None) != (not replay) or len(replay) > self.snapshot_every:
            raise ValueError("feed checkpoint with inconsistent undo information")
        self.restore(thaw(data["state"]))
        self._undo = thaw(undo) if undo is not None else None
        self._replay = replay
        self._undo_left = self.snapshot_every - len(replay) if replay else 0


def thaw(obj: Any) -> Any:
    """msgpack gives lists back; snapshots are tuples all the way down."""
    if isinstance(obj, list):
        return tuple(thaw(x) for x in obj)
    return obj


class ExactStateMixin(ABC):
    """Mix in *before* :class:`detectors.base.Detector` in the bases list."""

    #: no raw history: undo and checkpoints come from the snapshots
    history_bars = 0
    #: whether the detector has streaming state besides its feed's (False: attached
    #: to a feed it keeps none, and needs no undo of its own)
    keeps_own_state: bool = True
    #: ``_advance_own(bar)``: advance only the state that does not depend on the
    #: feed (when all of it does not), so that undo of it is amortized in a set
    _advance_own: Any = None
    #: False once attached to a detector set's shared :class:`Feed`
    _own: bool = True
    _feed: Feed | None = None
    last_open_time: int | None  # the Detector's
    _last_bar: Bar | None  # the Detector's
    _undo: Any = None
    _replay: list[Bar] | None = None
    #: bars to step before the next undo snapshot (0: take one now)
    _undo_left: int = 0
    #: bars between undo snapshots (1 = before every bar)
    snapshot_every: int = 32

    @abstractmethod
    def _snapshot(self) -> tuple[Any, ...]:
        """The whole streaming state as immutable builtins (tuples, numbers, None)."""

    @abstractmethod
    def _restore(self, snap: tuple[Any, ...]) -> None:
        """Replace the streaming state with ``snap`` (from :meth:`_snapshot`)."""

    @abstractmethod
    def _advance(self, bar: Bar) -> list[Signal]:
        """Advance state by one bar and return its signals (what ``_step`` does)."""

    # ---- shared per-bar state ----------------------------------------------------
    def feed_spec(self) -> tuple[type[Feed], dict[str, Any]] | None:
        """``(Feed class, parameters)`` of the per-bar state this detector can share
        with others in a set (None: it shares nothing). Specs of one class merge
        when they agree on every parameter they both name."""
        return None

    def attach_feed(self, feed: Feed) -> None:
        """Read the per-bar state from ``feed`` (advanced by the set) from now on;
        only for a detector that has not seen a bar yet."""
        assert self.last_open_time is None, "attach a feed before the first bar"
        self._own = False
        self._feed = feed
        self._use_feed(feed)
        # undo of the own state only: none when there is none; amortized when it can be
        # replayed without the feed (_advance_own); else a snapshot before every bar
        if not self.keeps_own_state:
            self._step = self._advance  # type: ignore[method-assign]
        elif self._advance_own is None:
            self._step = self._shared_step  # type: ignore[method-assign]

    def _shared_step(self, bar: Bar) -> list[Signal]:
        self._undo = self._snapshot()
        return self._advance(bar)

    def _use_feed(self, feed: Feed) -> None:
        """Point the detector's per-bar state at ``feed.state`` (detectors that
        declare a shared feed implement it)."""
        raise TypeError(f"{type(self).__name__} declares a shared feed but has no _use_feed")

    def _step(self, bar: Bar) -> list[Signal]:
        left = self._undo_left
        if left:
            self._undo_left = left - 1
            self._replay.append(bar)  # type: ignore[union-attr]  # set with the run's snapshot
        else:
            self._undo = self._snapshot()
            self._replay = [bar]
            self._undo_left = self.snapshot_every - 1
        return self._advance(bar)

    def _accept(self, bar: Bar) -> list[Signal]:
        # Detector._accept without the raw history (unused here)
        signals = self._step(bar)
        self.last_open_time = bar.open_time
        self._last_bar = bar
        self._last_signals = signals
        return signals

    def _rebuild_with(self, bar: Bar) -> list[Signal]:
        if not self._own:
            # the set rebuilt the feed with the corrected bar: back to our own state
            # before the last bar, then advance with the corrected one
            if self.keeps_own_state:
                self._restore(self._undo)
                if self._advance_own is not None:
                    replay = self._replay
                    assert replay is not None
                    for b in replay[:-1]:
                        self._advance_own(b)
                    replay[-1] = bar
        else:
            # the corrected bar replaces the last one: back to the snapshot, replay
            # the bars after it but the last, then advance with the corrected bar
            replay = self._replay
            assert replay is not None  # a corrected bar always follows a stepped one
            self._restore(self._undo)
            for b in replay[:-1]:
                self._advance(b)
            replay[-1] = bar
        signals = self._advance(bar)
        self._last_bar = bar
        self._last_signals = signals
        return signals

    def get_state(self) -> bytes:
        """Checkpoint: the exact state after the last bar, plus what the base class
        needs for its idempotency rules (last bar and its signals)."""
        state: dict[str, Any] = {
            "meta": self.meta,
            "state": self._snapshot(),
            "undo": self._undo,
            "replay": list(self._replay or []),
            "last_bar": self._last_bar,
            # emitted_at is wall-clock time, not state: a checkpoint must depend only
            # on the candles seen, so it is zeroed here and set anew on restore
            "last_signals": [msgspec.structs.replace(sig, emitted_at=0) for sig in self._last_signals],
            "history": list(self.history),  # type: ignore[attr-defined]
            "stale": self.stale_candles,
        }
        if not self._own:  # shared state is checkpointed apart from its readers
            state["feed"] = self._feed.tag  # type: ignore[union-attr]
        return msgspec.msgpack.encode(state)

    def set_state(self, blob: bytes) -> None:
        data = msgspec.msgpack.decode(blob, type=dict[str, Any])
        feed = None if self._own else self._feed.tag  # type: ignore[union-attr]
        if data.get("feed") != feed:  # shared state is checkpointed apart from its readers
            raise ValueError(f"checkpoint taken with shared state {data.get('feed')!r}, this detector has {feed!r}")
        self._reset()  # type: ignore[attr-defined]
        self.meta = msgspec.convert(data["meta"], SeriesMeta | None)
        self._restore(self._thaw(data["state"]))
        self._undo = self._thaw(data["undo"]) if data["undo"] is not None else None
        self._replay = [msgspec.convert(b, Bar) for b in data["replay"]] if self._undo is not None else None
        self._undo_left = self.snapshot_every - len(self._replay) if self._replay is not None else 0
        self._last_bar = msgspec.convert(data["last_bar"], Bar | None)
        restored_at = now_ms()
        self._last_signals = [msgspec.structs.replace(sig, emitted_at=restored_at)
                              for sig in msgspec.convert(data["last_signals"], list[Signal])]
        self.history.clear()  # type: ignore[attr-defined]
        self.history.extend(msgspec.convert(b, Bar) for b in data["history"])  # type: ignore[attr-defined]
        self.last_open_time = self._last_bar.open_time if self._last_bar is not None else None
        self.stale_candles = data.get("stale", 0)

    def _thaw(self, raw: Any) -> tuple[Any, ...]:
        """msgpack turns tuples into lists; detectors whose snapshot holds
        tuples that must stay tuples override this."""
        return tuple(raw)
