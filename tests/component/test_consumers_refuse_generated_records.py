"""Issue 12, point 3: every consumer of `orders.events`, `disputes.events` and `refunds.events`
dead-letters malformed, oversized, wrongly typed and unknown-version records with their reason
and goes on; none of them is handled.

The records are generated from the contracts (tests/support/bad_records.py), many per class.
Each is given to every consumer of its topic through the function its Kafka subscriber calls
for one record (`take_*_record`, `consume`), with a broker that keeps what is published and the
consumer's parts replaced by recorders of what would be handled:

| topic | consumer | handled means |
|---|---|---|
| orders.events | dispute service (order book) | `OrderBook.apply` |
| orders.events | refund service (paid orders) | `PaidOrders.apply` |
| refunds.events | dispute service | `record_refund_result` |
| disputes.events | notification | `handle_all` (inbox entries) |
| disputes.events | refund service | `RefundStore.accept` (terms, instructions) |
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

from contracts.topics import dead_letter_topic
from services.common.records import REASONS, UNKNOWN_EVENT_TYPE
from services.dispute.entrypoints import kafka_subscribers
from services.notification import consumer as notification
from services.refund import dispute_consumer, order_consumer
from tests.support.bad_records import (CLASSES, DISPUTES, ORDERS, REFUNDS, SHAPES, BadRecord,
                                       every_field_of_another_type, valid_records)

LIMIT = 4096  # the consumers' byte limit here: small, so oversized records stay cheap
LOOP = asyncio.new_event_loop()  # one for every example: a loop per example costs more than one
EXAMPLES = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class Broker:
    """Keeps what the consumer publishes (its dead letters)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(self, body: bytes, topic: str, key: bytes | None = None,
                      headers: dict[str, str] | None = None) -> None:
        self.published.append((topic, body, dict(headers or {})))


@dataclass
class Raw:
    topic: str
    partition: int = 0
    offset: int = 7
    key: bytes = b"k"


@dataclass
class Message:
    body: bytes
    raw_message: Raw
    headers: dict[str, str] = field(default_factory=lambda: {"correlation-id": "c-1"})


@dataclass
class Consumer:
    name: str
    topic: str
    group: str
    take: Callable[[Broker, Message], Awaitable[None]]
    handled: list[Any] = field(default_factory=list)

    @property
    def dlq(self) -> str:
        return dead_letter_topic(self.topic, self.group)

    def run(self, body: bytes) -> Broker:
        broker = Broker()
        LOOP.run_until_complete(self.take(broker, Message(body, Raw(self.topic))))
        return broker


class Recorder:
    """Stands in for a consumer's part: every call is what was handled."""

    def __init__(self, handled: list[Any]):
        self.handled = handled

    def apply(self, event) -> bool:  # OrderBook, PaidOrders
        self.handled.append(event)
        return True

    def accept(self, **kwargs) -> bool:  # RefundStore
        self.handled.append(kwargs)
        return True

    def accept_resolution(self, **kwargs) -> None:  # RefundStore
        self.handled.append(kwargs)

    async def check_resolution(self, event_id, instruction) -> None:  # TrustGate
        pass

    async def pay(self, idempotency_key) -> None:  # RefundDesk
        pass

    async def pay_accepted(self, idempotency_key, accepted) -> None:  # RefundDesk
        pass


def dispute_orders() -> Consumer:
    consumer = Consumer("dispute service", ORDERS, kafka_subscribers.GROUP, None)  # type: ignore[arg-type]
    book = Recorder(consumer.handled)
    consumer.take = lambda broker, message: kafka_subscribers.take_order_record(
        broker, consumer.dlq, message, book, None, LIMIT)
    return consumer


def refund_orders() -> Consumer:
    consumer = Consumer("refund service", ORDERS, order_consumer.GROUP, None)  # type: ignore[arg-type]
    orders = Recorder(consumer.handled)
    consumer.take = lambda broker, message: order_consumer.take_order_record(
        broker, consumer.dlq, message, orders, None, 0, LIMIT)
    return consumer


def dispute_refund_results() -> Consumer:
    consumer = Consumer("dispute service", REFUNDS, kafka_subscribers.GROUP, None)  # type: ignore[arg-type]

    async def take(broker, message):
        record = lambda disputes, result: consumer.handled.append(result)  # noqa: E731
        with mock.patch.object(kafka_subscribers, "record_refund_result", record):
            await kafka_subscribers.take_refund_record(broker, consumer.dlq, message, object(), LIMIT)

    consumer.take = take
    return consumer


def notification_of_disputes() -> Consumer:
    consumer = Consumer("notification", DISPUTES, notification.GROUP, None)  # type: ignore[arg-type]
    config = notification.NotifyConfig(max_record_bytes=LIMIT, redelivery_pause=0)

    async def take(broker, message):
        def handle_all(store, envelopes, *_):  # the consumer hands its readable records here
            consumer.handled.extend(envelopes)
            return notification.Handled(stored={i: True for i in range(len(envelopes))})

        with mock.patch.object(notification, "handle_all", handle_all):
            await notification.consume(broker, consumer.dlq, object(), config, message)

    consumer.take = take
    return consumer


def refund_of_disputes() -> Consumer:
    consumer = Consumer("refund service", DISPUTES, dispute_consumer.GROUP, None)  # type: ignore[arg-type]
    parts = Recorder(consumer.handled)
    consumer.take = lambda broker, message: dispute_consumer.on_dispute_record(
        broker, consumer.dlq, parts, parts, parts, message, 0, LIMIT)
    return consumer


CONSUMERS = {ORDERS: [dispute_orders(), refund_orders()], REFUNDS: [dispute_refund_results()],
             DISPUTES: [notification_of_disputes(), refund_of_disputes()]}


def skips_unknown_types(consumer: Consumer) -> bool:
    """The refund service acts on four known dispute event types; one it cannot know is none
    of its business (services/refund/dispute_consumer.py), so it neither acts nor refuses."""
    return consumer.topic == DISPUTES and consumer.group == dispute_consumer.GROUP


def assert_refused(consumer: Consumer, bad: BadRecord) -> None:
    consumer.handled.clear()
    broker = consumer.run(bad.body)  # raises nothing: a raise would be redelivered forever
    assert consumer.handled == [], f"{consumer.name} handled {bad.kind}: {bad.body[:200]!r}"
    if bad.reason == UNKNOWN_EVENT_TYPE and skips_unknown_types(consumer):
        assert broker.published == []
        return
    [(topic, body, headers)] = broker.published
    assert (topic, body) == (consumer.dlq, bad.body)
    assert headers["dlq-reason"] == bad.reason, (consumer.name, bad.kind, headers)
    assert headers["dlq-error"] and headers["dlq-source-offset"] == "7"
    assert headers["correlation-id"] == "c-1"  # the dead letter can still be traced


@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("topic", [ORDERS, REFUNDS, DISPUTES])
def test_every_consumer_dead_letters_a_generated_bad_record_with_its_reason(topic, kind):
    @EXAMPLES
    @given(CLASSES[kind](topic, LIMIT))
    def check(bad: BadRecord) -> None:
        assert bad.reason in REASONS
        for consumer in CONSUMERS[topic]:
            assert_refused(consumer, bad)

    check()


@pytest.mark.parametrize("topic", [ORDERS, REFUNDS, DISPUTES])
def test_every_consumer_handles_a_generated_valid_record_once_and_dead_letters_nothing(topic):
    @EXAMPLES
    @given(valid_records(topic))
    def check(body: bytes) -> None:
        for consumer in CONSUMERS[topic]:
            consumer.handled.clear()
            broker = consumer.run(body)
            assert broker.published == [], (consumer.name, body, broker.published)
            assert len(consumer.handled) == (1 if acts(consumer, body) else 0), (consumer.name, body)

    check()


def acts(consumer: Consumer, body: bytes) -> bool:
    """The refund service acts only on what teaches it terms or asks for money (policy.py)."""
    if consumer.topic == DISPUTES and consumer.group == dispute_consumer.GROUP:
        return bool(dispute_consumer.read_dispute_record(body, LIMIT)[1])
    return True


@pytest.mark.parametrize("topic", [ORDERS, REFUNDS, DISPUTES])
def test_every_field_of_every_kind_of_record_mistyped_or_missing_is_dead_lettered(topic):
    """Not left to chance: each property of each kind in each JSON type its schema refuses
    (a number for a time, `true` for a version, an integer for a decimal string...)."""
    bad_ones = every_field_of_another_type(topic)
    assert {bad.kind.split(" ")[0] for bad in bad_ones} == {shape.event_type for shape in SHAPES[topic]}
    for bad in bad_ones:
        for consumer in CONSUMERS[topic]:
            assert_refused(consumer, bad)
