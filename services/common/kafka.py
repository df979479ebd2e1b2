"""Kafka wiring shared by the services (no domain words here)."""

from __future__ import annotations

from typing import Any, AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


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


async def read_to_end(bootstrap: str, topic: str, client_id: str) -> AsyncIterator[Any]:
    """Every record of `topic` from the start to its end when called, without a consumer group
    (nothing committed): for tools that read a whole log once."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id=client_id,
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any(await consumer.position(tp) < ends[tp] for tp in partitions):
            for records in (await consumer.getmany(timeout_ms=1000, max_records=500)).values():
                for record in records:
                    yield record
    finally:
        await consumer.stop()
