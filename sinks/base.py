"""The sink contract: one base class and a registry of sink names.

A sink receives raw Kafka messages in batches, one topic-partition at a time and
in offset order, and makes them durable somewhere. The runner
(:mod:`sinks.runner`) owns the consumer; the sink owns storage and decides where
reading resumes. The life cycle, in the order the runner calls it::

    sink = SINKS["lake"](lake_dir=...)   # constructor: no I/O
    positions = sink.assign(partitions)  # on every partition assignment
    rejected = sink.write(batch)         # per fetched batch of one partition
    ... publish ``rejected`` to the dead-letter topic, wait for the broker ...
    offsets = sink.flush()               # rows durable; then commit ``offsets``
    sink.revoke(partitions)              # before partitions go to another member
    sink.close()                         # once, at shutdown

Adding a sink is one new module with a subclass of :class:`Sink` plus one line
in :data:`SINKS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from streams.records import DeadLetter


@dataclass(frozen=True, slots=True)
class TopicPartition:
    """A topic-partition, hashable, independent of the Kafka client library."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


class Message(Protocol):
    """What a sink reads of a Kafka message; aiokafka's ConsumerRecord fits."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One Kafka message as the sink sees it: undecoded bytes plus coordinates."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int  # broker/producer timestamp, UTC ms


@dataclass(frozen=True, slots=True)
class SinkBatch:
    """Consecutive messages of one topic-partition, in offset order."""

    tp: TopicPartition
    messages: Sequence[Message]

    @property
    def first_offset(self) -> int:
        return self.messages[0].offset

    @property
    def last_offset(self) -> int:
        return self.messages[-1].offset

    def __len__(self) -> int:
        return len(self.messages)

    @classmethod
    def of(cls, messages: Sequence[Message]) -> SinkBatch:
        """A batch from messages that all belong to one topic-partition."""
        if not messages:
            raise ValueError("a SinkBatch needs at least one message")
        tp = TopicPartition(messages[0].topic, messages[0].partition)
        for m in messages:
            if m.topic != tp.topic or m.partition != tp.partition:
                raise ValueError(f"message {m.topic}[{m.partition}]@{m.offset} does not belong to batch {tp}")
        return cls(tp, messages)


class SinkError(RuntimeError):
    """A sink could not make data durable. Carries the step and topic-partition."""

    def __init__(self, step: str, tp: TopicPartition | None, detail: str) -> None:
        where = f" for {tp}" if tp is not None else ""
        super().__init__(f"sink step {step!r} failed{where}: {detail}")
        self.step = step
        self.tp = tp


class Sink(ABC):
    """Base class of every sink. Subclasses implement :meth:`write` and
    :meth:`flush`; the others have sensible defaults.

    Delivery contract: the runner commits consumer offsets only with what
    :meth:`flush` returns, so a sink that makes rows durable before returning
    from :meth:`flush` loses nothing. A sink that also returns start positions
    from :meth:`assign` (as the lake does) turns at-least-once delivery into
    exactly-once storage.
    """

    #: Registry name, set by subclasses.
    name: str = ""

    def assign(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Called when the consumer is given ``partitions`` (at start and after
        every rebalance), before any :meth:`write` of them. Returns, per
        partition, the offset to resume from, or ``None`` to read from the
        beginning of what the broker still holds. The default trusts the
        consumer group's committed offsets (returns an empty dict)."""
        return {}

    @abstractmethod
    def write(self, batch: SinkBatch) -> list[DeadLetter]:
        """Called for every fetched batch of one topic-partition, in offset
        order. Decodes and buffers the rows; must not lose them before the next
        :meth:`flush`. Returns the records it rejected as dead letters, which
        the runner publishes to the ``deadletter`` topic (and waits for) before
        it calls :meth:`flush`, so a rejected record is never lost either."""

    @abstractmethod
    def flush(self) -> dict[TopicPartition, int]:
        """Called when the runner's batch is full or its flush interval passed,
        and before partitions are revoked. Makes every buffered row durable and
        returns ``{partition: next offset to read}`` for the runner to commit.
        Partitions with nothing buffered are left out."""

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:  # noqa: B027 - optional hook
        """Called after the final :meth:`flush` when ``partitions`` are taken
        away; drop any per-partition state."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Called once at shutdown, after the final :meth:`flush`."""

    def stats(self) -> dict[str, Any]:
        """Counters for progress logs (rows written, duplicates dropped, ...)."""
        return {}


#: Sink name -> factory. One line per sink; values are imported lazily so that
#: optional dependencies of one sink never break the others.
SINKS: dict[str, str] = {
    "lake": "sinks.lake:LakeSink",
}


def sink_class(name: str) -> Callable[..., Sink]:
    """The sink class registered as ``name``."""
    try:
        target = SINKS[name]
    except KeyError:
        raise KeyError(f"unknown sink {name!r}; registered: {', '.join(sorted(SINKS))}") from None
    module_name, _, attr = target.partition(":")
    import importlib

    module = importlib.import_module(module_name)
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Sink)):
        raise TypeError(f"sink {name!r} -> {target} is not a Sink subclass")
    return cls
