"""Consumer lag measured as the services measure it, on the real broker: per group and
partition, the end offset minus what the group committed."""

from __future__ import annotations

from uuid import uuid4

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka import ensure_topics, idempotent_producer
from services.common.kafka_metrics import measure_lag


async def produce(connection, topic: str, partition: int, count: int) -> None:
    producer = idempotent_producer(connection, "lag-test")
    await producer.start()
    try:
        for n in range(count):
            await producer.send_and_wait(topic, f"r{n}".encode(), partition=partition)
    finally:
        await producer.stop()


async def commit(connection, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(**connection.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_lag_is_what_the_group_has_not_committed_on_each_partition(kafka):
    topic, group = f"lag-{uuid4().hex[:8]}", f"lag-group-{uuid4().hex[:8]}"
    await ensure_topics(kafka.admin, {topic: {}}, partitions=2)
    await produce(kafka.admin, topic, 0, 5)
    await produce(kafka.admin, topic, 1, 3)
    await commit(kafka.admin, group, {TopicPartition(topic, 0): 2})
    lags = await measure_lag(kafka.admin, {group: [topic]})
    # partition 1: nothing committed, so every record kept there is still to be read
    assert lags == {(group, topic, 0): 3, (group, topic, 1): 3}


async def test_a_topic_that_does_not_exist_yet_has_no_lag(kafka):
    assert await measure_lag(kafka.admin, {"nobody": [f"missing-{uuid4().hex[:8]}"]}) == {}
