"""The record a handler is given is resolved on the event loop, never in a worker thread
(services/common/kafka_message.py), for per-record and batch handlers alike; faststream's own
annotation hops to a thread for every call (the contrast, so the test sees the hop at all)."""

from __future__ import annotations

import fast_depends.utils
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage as ThreadedKafkaMessage
from faststream.kafka.message import KafkaMessage as StreamMessage

from services.common.kafka_message import KafkaMessage


def _counting_thread_hops(monkeypatch) -> list:
    hops: list = []
    real = fast_depends.utils.run_in_threadpool

    async def counted(func, *args, **kwargs):
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", counted)
    return hops


async def test_the_message_is_resolved_without_a_thread_hop(monkeypatch):
    hops = _counting_thread_hops(monkeypatch)
    broker = KafkaBroker()
    seen: list = []

    @broker.subscriber("one")
    async def on_one(message: KafkaMessage) -> None:
        seen.append((isinstance(message, StreamMessage), message.body))

    @broker.subscriber("many", batch=True)
    async def on_many(message: KafkaMessage) -> None:
        seen.append((isinstance(message, StreamMessage), message.body))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"a", "one")
        await test_broker.publish_batch(b"b", b"c", topic="many")

    assert seen == [(True, b"a"), (True, [b"b", b"c"])]
    assert hops == []


async def test_faststreams_own_annotation_hops_to_a_thread(monkeypatch):
    hops = _counting_thread_hops(monkeypatch)
    broker = KafkaBroker()
    seen: list = []

    @broker.subscriber("one")
    async def on_one(message: ThreadedKafkaMessage) -> None:
        seen.append(message.body)

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"a", "one")

    assert seen == [b"a"]
    assert len(hops) == 1
