"""The relay: follows the event store's notification log and publishes, in log order, to Kafka.

Its position is recorded only after Kafka acknowledged the batch, so a crash re-publishes
(same `event_id`s, consumers drop the duplicates) and never skips. With `checkpoints`, each
batch is followed by a signed checkpoint of its chain heads (`audit/checkpoint_topic.py`).
Only the holder of the relay lock publishes (`lock.py`); the others stand by and take over
when it dies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from contracts.topics import DISPUTES_EVENTS
from services.dispute.audit.checkpoint_topic import CheckpointPublisher
from services.dispute.relay.lock import LockLost, Unguarded, wait_for_lock
from services.dispute.relay.metrics import RelayMetrics, ShardRelayMetrics
from services.dispute.relay.wakeup import PollingWakeup
from services.dispute.adapters.translation import stored_kafka_record

log = structlog.get_logger("relay")
metadata = MetaData()
relay_positions = Table(
    "relay_positions", metadata,
    Column("name", String(64), primary_key=True), Column("position", BigInteger, nullable=False),
)


class RelayPosition:
    def __init__(self, engine: Engine, name: str = DISPUTES_EVENTS):
        self.engine, self.name = engine, name

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def get(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(relay_positions.c.position)
                                 .where(relay_positions.c.name == self.name)).scalar()
        return value or 0

    def set(self, position: int) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(relay_positions).where(relay_positions.c.name == self.name)
                                .values(position=position)).rowcount
            if not done:
                conn.execute(insert(relay_positions).values(name=self.name, position=position))

    def advance(self, start: int, position: int) -> None:
        """Move from `start` to `position`, or raise LockLost if another relay moved it first:
        a relay that lost its lock unnoticed must not pull the position back."""
        with self.engine.begin() as conn:
            moved = conn.execute(update(relay_positions)
                                 .where(relay_positions.c.name == self.name,
                                        relay_positions.c.position == start)
                                 .values(position=position)).rowcount
            if moved:
                return
            current = conn.execute(select(relay_positions.c.position)
                                   .where(relay_positions.c.name == self.name)).scalar()
            if current is not None or start != 0:
                raise LockLost()
            try:
                conn.execute(insert(relay_positions).values(name=self.name, position=position))
            except IntegrityError:
                raise LockLost() from None


class RelayBlocked(Exception):
    """A stored event cannot be published (its contract refuses it): the relay stops there, so
    nothing after it is published out of order or skipped, until the code is fixed."""

    def __init__(self, notification_id: int, error: Exception):
        super().__init__(f"stored event {notification_id} cannot be published: {error!r}")
        self.notification_id, self.error = notification_id, error


@dataclass
class SentBatch:
    """A batch whose records (and checkpoint) are queued on the producer, not yet acknowledged."""

    start: int  # the saved position it follows
    end: int  # the last notification id it covers
    count: int
    first: int
    sent: list
    blocked: RelayBlocked | None


class Relay:
    def __init__(self, app, producer, position: RelayPosition, batch_size: int = 200,
                 poll_interval: float = 0.2, topic: str = DISPUTES_EVENTS, *, lock=None,
                 wakeup: PollingWakeup | None = None,
                 metrics: RelayMetrics | ShardRelayMetrics | None = None,
                 checkpoints: CheckpointPublisher | None = None):
        self.app, self.producer, self.position = app, producer, position
        self.checkpoints = checkpoints
        self.batch_size, self.poll_interval, self.topic = batch_size, poll_interval, topic
        self.lock, self.wakeup = lock or Unguarded(), wakeup or PollingWakeup()
        self.metrics = metrics or RelayMetrics()
        # The saved position and the last notification queued, while this relay publishes;
        # None: read the saved position afresh (at a take-over, after any failure).
        self._saved: int | None = None
        self._queued: int | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        """Stand by for the lock, publish while it is held; again if it is lost."""
        while await wait_for_lock(self.lock, stopping):
            try:
                await self._publish_while_held(stopping)
            except LockLost:
                log.warning("relay_lock_lost", lock=self.lock.name)
            finally:
                self._saved = self._queued = None
                self.metrics.active.set(0)
                await self.lock.release()

    async def _publish_while_held(self, stopping: asyncio.Event) -> None:
        """Pipelined: the next batch is read, translated and queued while the one before waits
        for Kafka's acknowledgement; positions are saved in order, each after its batch."""
        self._saved = self._queued = None  # the previous holder may have advanced the position
        log.info("relay_took_over", lock=self.lock.name, topic=self.topic,
                 position=await self._start())
        self.metrics.active.set(1)
        pending: SentBatch | None = None
        try:
            while not stopping.is_set():
                if not await self.lock.still_held():
                    raise LockLost()
                batch = None if pending and pending.blocked else await self._send_next_batch()
                if pending is not None:
                    await self._settle(pending)
                pending = batch
                if batch is None:
                    await self.wakeup.wait(self.poll_interval, stopping)
            if pending is not None:
                await self._settle(pending)
        except BaseException:
            self._saved = self._queued = None
            raise

    async def publish_next_batch(self) -> int:
        """Publish one batch and save its position (the unpipelined step)."""
        try:
            batch = await self._send_next_batch()
            if batch is None:
                return 0
            await self._settle(batch)
            return batch.count
        except BaseException:
            self._saved = self._queued = None
            raise

    async def _start(self) -> int:
        if self._saved is None:
            self._saved = self._queued = await asyncio.to_thread(self.position.get)
        return self._saved

    async def _send_next_batch(self) -> SentBatch | None:
        """Read the notifications after the last queued one, translate them and queue their
        records (and the batch's checkpoint) on the producer; None when there are none."""
        await self._start()
        start = self._queued
        assert start is not None
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications, start, self.batch_size, inclusive_of_start=False)
        if not notifications:
            return None
        records, links, blocked = self._translate(notifications)
        if not records:
            if blocked is not None:
                raise blocked
            return None
        sent = [await self.producer.send(self.topic, value=r.value, key=r.key, headers=r.headers)
                for _, r in records if r is not None]
        if self.checkpoints:
            sent.append(await self.checkpoints.send(records[-1][0], links))
        self._queued = records[-1][0]
        return SentBatch(start, records[-1][0], len(records), records[0][0], sent, blocked)

    async def _settle(self, batch: SentBatch) -> None:
        """Wait for the batch's acknowledgements, then save its position (compare-and-set from
        the position it followed: a relay that lost its lock unnoticed raises LockLost)."""
        await asyncio.gather(*batch.sent)
        await asyncio.to_thread(self.position.advance, batch.start, batch.end)
        self._saved = batch.end
        self.metrics.published.inc(batch.count)
        log.info("relay_published", count=batch.count, first=batch.first, position=batch.end)
        if batch.blocked is not None:
            raise batch.blocked

    def _translate(self, notifications) -> tuple[list, list, RelayBlocked | None]:
        """(notification id, Kafka record or None for internal events) for the batch, up to the
        first event that cannot be published; and (dispute id, version, hash) of the same."""
        envelopes: list[tuple[int, Any]] = []
        links: list[tuple[Any, int, str | None]] = []
        for notification in notifications:
            try:
                envelope, meta = stored_kafka_record(notification, self.app.mapper)
            except Exception as error:
                return envelopes, links, RelayBlocked(notification.id, error)
            envelopes.append((notification.id, envelope))
            links.append((notification.originator_id, notification.originator_version, meta.get("hash")))
        return envelopes, links, None

