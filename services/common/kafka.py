"""Kafka wiring shared by the services (no domain words here)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
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
