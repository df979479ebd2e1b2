"""The dispute service's refund-result consumer on a real broker, its records in lanes and
committed in batches (services/common/laned_subscriber.py): a record failing for a moment is
tried again in its dispute's lane while the other disputes go on, a dispute's results are
recorded in their order, the group's committed offset never passes an unfinished record and
reaches the end once everything is done, and a consumer started again from that offset finds
nothing to do again."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from uuid import uuid4

import pytest
from aiokafka import TopicPartition
from sqlalchemy.exc import OperationalError

from contracts.refunds import RefundIssued
from contracts.topics import dead_letter_topic
from services.common.kafka import admin_client, ensure_topics, kafka_broker
from services.dispute.entrypoints import kafka_subscribers
from tests.support.kafka import eventually
from tests.support.orders import NOW

pytestmark = pytest.mark.integration


async def committed(kafka, group: str, topic: str) -> dict[int, int]:
    admin = admin_client(kafka.admin)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def test_a_transient_failure_waits_in_its_lane_and_the_commits_reach_the_end(kafka, monkeypatch):
    topic = f"it-{uuid4().hex[:8]}.refunds.events"
    group = f"dispute-{uuid4().hex[:6]}"
    await ensure_topics(kafka.admin, {topic: {}, dead_letter_topic(topic, group): {}}, 3)
    monkeypatch.setattr(kafka_subscribers, "GROUP", group)
    slow, others = uuid4(), [uuid4() for _ in range(5)]
    recorded: dict[str, list[str]] = defaultdict(list)
    failed: list[str] = []

    def record(disputes, result):
        # the slow dispute's first result fails, as an outage would, until every other dispute's
        # result is recorded: only lanes that go on beside a failing one ever get past it
        if result.refund_id == "R-slow-1" and not all(recorded[str(d)] for d in others):
            failed.append(result.refund_id)
            raise OperationalError("SELECT 1", {}, Exception("the database is away"))
        recorded[str(result.dispute_id)].append(result.refund_id)

    monkeypatch.setattr(kafka_subscribers, "record_refund_result", record)
    monkeypatch.setattr(kafka_subscribers, "handle_or_dead_letter",
                        _with_pause(kafka_subscribers.handle_or_dead_letter, 0.05))
    broker = kafka_broker(kafka.admin, "dispute-tests")
    lanes = kafka_subscribers.register_refund_consumer(broker, object(), topic=topic)  # type: ignore[arg-type]

    def result(dispute, refund_id):
        return RefundIssued(event_id=uuid4(), refund_id=refund_id, dispute_id=dispute,
                            amount=Decimal("1.00"), currency="USD", occurred_at=NOW,
                            causation_id="E-1", provider_reference="re_1")

    ordered = [result(slow, f"R-slow-{n}") for n in (1, 2, 3)]
    rest = [result(d, f"R-{n}") for n, d in enumerate(others)]
    await broker.start()
    try:
        for message in (*ordered, *rest):
            await broker.publish(message.kafka_value(), topic=topic, key=message.kafka_key())
        assert await eventually(lambda: len(recorded[str(slow)]) == 3)
        await lanes.drain()
        assert await commits_reach_the_end(kafka, group, topic)
    finally:
        await lanes.stop()
        await broker.stop()
    assert failed and set(failed) == {"R-slow-1"}
    assert recorded[str(slow)] == ["R-slow-1", "R-slow-2", "R-slow-3"]
    assert sorted(sum(recorded.values(), [])) == sorted(m.refund_id for m in (*ordered, *rest))

    # started again from the committed offsets: one more result in every dispute's lane (its
    # partition, after its earlier records) is recorded, and nothing before it again
    before = {d: list(ids) for d, ids in recorded.items() if ids}
    again = kafka_broker(kafka.admin, "dispute-tests")
    lanes_again = kafka_subscribers.register_refund_consumer(again, object(), topic=topic)  # type: ignore[arg-type]
    markers = [result(d, f"R-again-{d}") for d in (slow, *others)]
    await again.start()
    try:
        for marker in markers:
            await again.publish(marker.kafka_value(), topic=topic, key=marker.kafka_key())
        assert await eventually(lambda: all(recorded[str(m.dispute_id)][-1] == m.refund_id for m in markers))
    finally:
        await lanes_again.stop()
        await again.stop()
    assert {d: ids[:-1] for d, ids in recorded.items() if ids} == before


async def commits_reach_the_end(kafka, group: str, topic: str, timeout: float = 30) -> bool:
    """Whether the group's committed offsets of `topic` reach its end offsets within `timeout`."""
    ends = await end_offsets_of(kafka, topic)

    async def all_committed() -> bool:
        return await committed(kafka, group, topic) == ends

    return await eventually(all_committed, timeout=timeout)


def _with_pause(handle_or_dead_letter, pause):
    async def shorter(broker, topic, message, handle, pause_=pause):
        return await handle_or_dead_letter(broker, topic, message, handle, pause=pause_)
    return shorter


async def end_offsets_of(kafka, topic: str) -> dict[int, int]:
    from aiokafka import AIOKafkaConsumer
    consumer = AIOKafkaConsumer(**kafka.admin.client_options())  # no group: reads the ends only
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items() if offset > 0}
