"""Kafka wiring shared by the services (no domain words here)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, TopicAlreadyExistsError


def idempotent_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """acks=all + idempotence: a retried send is never written twice or out of order."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id=client_id, acks="all",
        enable_idempotence=True, linger_ms=5,
    )


async def ensure_topics(bootstrap: str, topics: dict[str, dict[str, str]], partitions: int) -> None:
    """Create missing topics (name -> topic configs); existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1, topic_configs=configs)
                   for name, configs in topics.items() if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def read_to_end(bootstrap: str, topic: str, client_id: str, wait: float = 10.0) -> AsyncIterator[Any]:
    """Every record of `topic` from the start to its end when called, without a consumer group
    (nothing committed): for tools that read a whole log once. Nothing if there is no topic."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, client_id=client_id, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        await consumer.start()
        if topic not in await consumer.topics():
            return
        partitions = await _assigned(consumer, wait)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=500)).values():
                for record in records:
                    yield record
    finally:
        await consumer.stop()


async def _assigned(consumer: AIOKafkaConsumer, wait: float) -> list[TopicPartition]:
    deadline = asyncio.get_running_loop().time() + wait
    while not consumer.assignment():
        if asyncio.get_running_loop().time() > deadline:
            raise KafkaTimeoutError("no partition of the topic was assigned in time")
        await asyncio.sleep(0.05)
    return sorted(consumer.assignment())
