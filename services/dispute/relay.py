"""The relay: follows the event store's notification log and publishes, in log order, to Kafka.

Its position is recorded only after Kafka acknowledged the batch, so a crash re-publishes
(same `event_id`s, consumers drop the duplicates) and never skips.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select, update, insert

from contracts.topics import DISPUTES_EVENTS
from services.dispute.application import DisputeApplication
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
    def __init__(self, app: DisputeApplication, producer, position: RelayPosition,
                 batch_size: int = 200, poll_interval: float = 0.2, topic: str = DISPUTES_EVENTS):
        self.app, self.producer, self.position = app, producer, position
        self.batch_size, self.poll_interval, self.topic = batch_size, poll_interval, topic

    async def run(self, stopping: asyncio.Event) -> None:
        log.info("relay_started", position=self.position.get(), topic=self.topic)
        while not stopping.is_set():
            published = await self.publish_next_batch()
            if published == 0:
                try:
                    await asyncio.wait_for(stopping.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def publish_next_batch(self) -> int:
        start = await asyncio.to_thread(self.position.get)
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications, start, self.batch_size, inclusive_of_start=False)
        if not notifications:
            return 0
        pending = [await self._send(n) for n in notifications]
        await asyncio.gather(*(p for p in pending if p is not None))
        await asyncio.to_thread(self.position.set, notifications[-1].id)
        log.info("relay_published", count=len(notifications), position=notifications[-1].id)
        return len(notifications)

    async def _send(self, notification):
        domain_event, meta = self.app.mapper.to_domain_event_with_meta(notification)
        if not is_public(domain_event):
            return None
        envelope = to_envelope(domain_event, meta)
        return await self.producer.send(self.topic, value=envelope.kafka_value(),
                                        key=envelope.kafka_key(), headers=envelope.kafka_headers())
