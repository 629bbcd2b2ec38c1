"""Follow ``control.subscriptions``: symbols added or removed there take effect
without a restart.

The topic is compacted and keyed ``exchange:market``; the value is a
:class:`~streams.records.Subscription` listing the symbols to stream. Every
connector reads it from the beginning with no consumer group (each must see
the whole state, not a share of it) and applies the latest record for its own
key. A record that does not decode goes to ``deadletter`` with the reason.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec

from connectors.base.connector import Connector
from connectors.clock import now_ms
from streams import topics
from streams.records import RecordError, Subscription, dead_letter

log = logging.getLogger("scanflow.connectors")
_decoder = msgspec.json.Decoder(Subscription)
_encode = msgspec.json.Encoder().encode


class SubscriptionFollower:
    """Applies ``control.subscriptions`` records for one connector's venue."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.key = f"{connector.venue.exchange}:{connector.venue.market}"
        self.applied = 0
        self.last: Subscription | None = None

    async def apply(self, key: bytes | None, value: bytes | None, *, offset: int | None = None) -> bool:
        """Apply one record; returns True if it changed what we stream."""
        if key is None or key.decode(errors="replace") != self.key:
            return False
        if value is None:  # tombstone: nothing to stream for this venue
            await self.connector.set_symbols([])
            self.applied += 1
            return True
        try:
            sub = _decoder.decode(value)
            if (sub.exchange, sub.market) != (self.connector.venue.exchange, self.connector.venue.market):
                raise RecordError("key_mismatch", f"record for {sub.exchange}:{sub.market} under key {self.key}")
        except (msgspec.DecodeError, RecordError) as exc:
            err = exc if isinstance(exc, RecordError) else RecordError("malformed_subscription", str(exc))
            log.warning("%s: bad record at offset %s: %s", topics.SUBSCRIPTIONS, offset, err)
            dl = dead_letter(f"connector:{self.connector.venue.name}:control", err, value, received_at=now_ms(),
                             topic=topics.SUBSCRIPTIONS, partition=0, offset=offset)
            await self.connector.publisher.send(topics.DEADLETTER, b"control", _encode(dl))
            return False
        self.last = sub
        self.applied += 1
        await self.connector.set_symbols(sub.symbols)
        return True

    async def run(self, bootstrap: str, poll_ms: int = 500) -> None:
        """Consume the topic from the beginning forever (cancel to stop)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", client_id=f"scanflow-control-{self.key}")
        await consumer.start()
        try:
            parts = None
            for _ in range(50):
                parts = consumer.partitions_for_topic(topics.SUBSCRIPTIONS)
                if parts:
                    break
                await consumer.force_metadata_update()
                await asyncio.sleep(0.1)
            if not parts:
                raise RuntimeError(f"topic {topics.SUBSCRIPTIONS} does not exist on {bootstrap}; create topics first")
            tps = [TopicPartition(topics.SUBSCRIPTIONS, p) for p in sorted(parts)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while True:
                batches = await consumer.getmany(timeout_ms=poll_ms)
                for _tp, records in batches.items():
                    for rec in records:
                        await self.apply(rec.key, rec.value, offset=rec.offset)
        finally:
            await consumer.stop()


def subscription_record(exchange: str, market: str, symbols: list[str]) -> tuple[bytes, bytes]:
    """Key and value of a ``control.subscriptions`` record (what the API publishes)."""
    sub = Subscription(exchange=exchange, market=market, symbols=symbols, updated_at=now_ms())
    return f"{exchange}:{market}".encode(), _encode(sub)
