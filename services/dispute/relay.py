"""The relay: follows the event store's notification log and publishes, in log order, to Kafka.

Its position is recorded only after Kafka acknowledged the batch, so a crash re-publishes
(same `event_id`s, consumers drop the duplicates) and never skips. Only the holder of the
relay lock publishes (`relay_lock`); the others stand by and take over when it dies.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select, update

from contracts.topics import DISPUTES_EVENTS
from services.dispute.relay_lock import LockLost, Unguarded, wait_for_lock
from services.dispute.relay_metrics import RelayMetrics
from services.dispute.relay_wakeup import PollingWakeup
from services.dispute.translation import is_public, to_envelope

log = structlog.get_logger("relay")
metadata = MetaData()
relay_positions = Table(
    "relay_positions", metadata,
    Column("name", String(64), primary_key=True), Column("position", Integer, nullable=False),
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


class Relay:
    def __init__(self, app, producer, position: RelayPosition, batch_size: int = 200,
                 poll_interval: float = 0.2, topic: str = DISPUTES_EVENTS, *, lock=None,
                 wakeup: PollingWakeup | None = None, metrics: RelayMetrics | None = None):
        self.app, self.producer, self.position = app, producer, position
        self.batch_size, self.poll_interval, self.topic = batch_size, poll_interval, topic
        self.lock, self.wakeup = lock or Unguarded(), wakeup or PollingWakeup()
        self.metrics = metrics or RelayMetrics()

    async def run(self, stopping: asyncio.Event) -> None:
        """Stand by for the lock, publish while it is held; again if it is lost."""
        while await wait_for_lock(self.lock, stopping):
            try:
                await self._publish_while_held(stopping)
            except LockLost:
                log.warning("relay_lock_lost", lock=self.lock.name)
            finally:
                self.metrics.active.set(0)
                await self.lock.release()

    async def _publish_while_held(self, stopping: asyncio.Event) -> None:
        # The previous holder may have advanced the position: every batch reads it afresh.
        log.info("relay_took_over", lock=self.lock.name, topic=self.topic,
                 position=await asyncio.to_thread(self.position.get))
        self.metrics.active.set(1)
        while not stopping.is_set():
            if not await self.lock.still_held():
                raise LockLost()
            if await self.publish_next_batch() == 0:
                await self.wakeup.wait(self.poll_interval, stopping)

    async def publish_next_batch(self) -> int:
        start = await asyncio.to_thread(self.position.get)
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications, start, self.batch_size, inclusive_of_start=False)
        if not notifications:
            return 0
        pending = [await self._send(n) for n in notifications]
        await asyncio.gather(*(p for p in pending if p is not None))
        await asyncio.to_thread(self.position.set, notifications[-1].id)
        self.metrics.published.inc(len(notifications))
        log.info("relay_published", count=len(notifications), first=notifications[0].id,
                 position=notifications[-1].id)
        return len(notifications)

    async def _send(self, notification):
        domain_event, meta = self.app.mapper.to_domain_event_with_meta(notification)
        if not is_public(domain_event):
            return None
        envelope = to_envelope(domain_event, meta)
        return await self.producer.send(self.topic, value=envelope.kafka_value(),
                                        key=envelope.kafka_key(), headers=envelope.kafka_headers())
