"""Issue 12, point 3, on a real broker and PostgreSQL: generated bad records (the strategies of
tests/support/bad_records.py, drawn with a fixed seed: ten of each class per topic),
interleaved with valid records on one key (so one partition, in order), reach every consumer of
their topic as in a deployment. Each bad record lands once on the consumer group's dead-letter
topic with its reason (the refund service's: each that may name a type it handles, the others it
commits unread); each valid record, every one of them behind bad ones, is handled exactly
once; nothing else is handled. One running consumer per service and topic, topics of this run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable
from decimal import Decimal
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord
from hypothesis import strategies as st

from contracts.refunds import RefundIssued
from contracts.topics import dead_letter_topic
from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer, kafka_broker
from services.dispute.adapters.order_book import OrderBook
from services.dispute.entrypoints import kafka_subscribers
from services.notification.consumer import NotifyConfig
from services.notification.consumer import register_dispute_consumer as register_notification
from services.notification.store import NotificationStore
from services.refund.desk import RefundDesk
from services.refund.dispute_consumer import cannot_be_handled
from services.refund.dispute_consumer import register_dispute_consumer as register_refund_disputes
from services.refund.order_consumer import register_order_consumer as register_refund_orders
from services.refund.orders import PaidOrders
from services.refund.store import RefundStore
from services.refund.trust import TrustGate, TrustMetrics
from services.common.records import UNKNOWN_EVENT_TYPE
from tests.support.bad_records import CLASSES, DISPUTES, ORDERS, REFUNDS, BadRecord, drawn
from tests.support.envelopes import opened
from tests.support.kafka import eventually, read_topic
from tests.support.orders import NOW, order_placed

pytestmark = pytest.mark.integration
LIMIT = 4096  # the consumers' byte limit in this test: an oversized record stays small for Kafka
EACH_CLASS = 10
SEED = 20261201


def bad_batch(topic: str) -> list[BadRecord]:
    return [bad for index, kind in enumerate(sorted(CLASSES)) for bad in drawn(
        st.lists(CLASSES[kind](topic, LIMIT), min_size=EACH_CLASS, max_size=EACH_CLASS), SEED + index)]


@dataclass
class Sent:
    offset: int
    body: bytes
    bad: BadRecord | None = None
    valid_id: str | None = None


@dataclass
class Run:
    topic: str
    kafka: object
    sent: list[Sent] = field(default_factory=list)

    async def produce(self, bad: list[BadRecord], valid: list[tuple[str, bytes]]) -> None:
        """Two bad records, then a valid one, and so on: every valid record is behind bad ones."""
        order: list[tuple[BadRecord | None, str | None, bytes]] = []
        for index, record in enumerate(bad):
            order.append((record, None, record.body))
            if index % 2 == 1 and valid:
                valid_id, body = valid.pop(0)
                order.append((None, valid_id, body))
        order += [(None, valid_id, body) for valid_id, body in valid]
        producer = idempotent_producer(self.kafka.admin, "dlq-tests")
        await producer.start()
        try:
            futures = [await producer.send(self.topic, body, key=b"one-partition") for _, _, body in order]
            offsets = [(await future).offset for future in futures]
        finally:
            await producer.stop()
        self.sent = [Sent(offset, body, record, valid_id)
                     for offset, (record, valid_id, body) in zip(offsets, order)]

    @property
    def valid_ids(self) -> list[str]:
        return [s.valid_id for s in self.sent if s.valid_id is not None]

    async def assert_dead_letters(self, group: str, skips_unknown_types: bool = False,
                                  unread: Callable[[bytes], bool] = lambda value: False) -> None:
        """`unread(value)`: a record the group commits without reading it (the refund
        service's prefilter), so it dead-letters none of those."""
        expected = {s.offset: s for s in self.sent if s.bad is not None and not unread(s.body)
                    and not (skips_unknown_types and s.bad.reason == UNKNOWN_EVENT_TYPE)}
        records = await read_topic(self.kafka.admin, dead_letter_topic(self.topic, group), len(expected))
        got = Counter(int(dict(r.headers)["dlq-source-offset"]) for r in records)
        assert set(got) == set(expected) and set(got.values()) == {1}, (group, sorted(set(expected) - set(got)))
        for record in records:
            sent = expected[int(dict(record.headers)["dlq-source-offset"])]
            headers = dict(record.headers)
            assert record.value == sent.body and headers["dlq-reason"].decode() == sent.bad.reason, (
                group, sent.bad.kind, headers)


async def running(*brokers):
    for broker in brokers:
        await broker.start()


async def stopped(*brokers):
    for broker in brokers:
        await broker.stop()


async def own_topics(kafka, topic: str, groups: tuple[str, ...]) -> None:
    await ensure_topics(kafka.admin, {topic: {}, **{dead_letter_topic(topic, g): {} for g in groups}}, 3)


class CountingApplies:
    """Counts each order event applied, by event id, before the real `apply`."""

    def __init__(self, engine):
        super().__init__(engine)  # type: ignore[call-arg]
        self.handled: Counter[str] = Counter()

    def apply(self, event) -> bool:
        self.handled[str(event.event_id)] += 1
        return super().apply(event)  # type: ignore[misc]


class CountingBook(CountingApplies, OrderBook):
    pass


class CountingPaidOrders(CountingApplies, PaidOrders):
    pass


class CountingRefundStore(RefundStore):
    def __init__(self, engine):
        super().__init__(engine)
        self.handled: Counter[str] = Counter()

    def accept(self, **kwargs) -> bool:
        self.handled[kwargs["event_id"]] += 1
        return super().accept(**kwargs)


async def test_bad_order_records_are_dead_lettered_by_both_consumers_which_keep_going(pg_url, kafka):
    topic = f"it-{uuid4().hex[:8]}.orders.events"
    await own_topics(kafka, topic, (kafka_subscribers.GROUP, "refund"))
    engine = sqlalchemy_engine(pg_url)
    book, paid = CountingBook(engine), CountingPaidOrders(engine)
    book.create_tables()
    RefundStore(engine).create_tables()
    dispute_side, refund_side = kafka_broker(kafka.admin, "dispute-tests"), kafka_broker(kafka.admin, "refund-tests")
    kafka_subscribers.register_order_consumer(dispute_side, book, None, LIMIT, topic=topic)
    register_refund_orders(refund_side, paid, TrustMetrics(), topic, pause=0.1, max_record_bytes=LIMIT)
    valid = [order_placed(order_id=f"O-{uuid4().hex[:8]}") for _ in range(20)]
    run = Run(topic, kafka)
    await running(dispute_side, refund_side)
    try:
        await run.produce(bad_batch(ORDERS), [(str(v.event_id), v.model_dump_json().encode()) for v in valid])
        last = run.valid_ids[-1]
        assert await eventually(lambda: book.handled[last] and paid.handled[last])
    finally:
        await stopped(dispute_side, refund_side)
    for counted in (book.handled, paid.handled):
        assert counted == Counter({valid_id: 1 for valid_id in run.valid_ids})
    await run.assert_dead_letters(kafka_subscribers.GROUP)
    await run.assert_dead_letters("refund")
    assert all(book.facts(v.order_id) for v in valid)


async def test_bad_refund_results_are_dead_lettered_and_the_dispute_service_keeps_going(
        kafka, monkeypatch):
    topic = f"it-{uuid4().hex[:8]}.refunds.events"
    await own_topics(kafka, topic, (kafka_subscribers.GROUP,))
    handled: Counter[str] = Counter()
    monkeypatch.setattr(kafka_subscribers, "record_refund_result",
                        lambda disputes, result: handled.update([str(result.event_id)]))
    broker = kafka_broker(kafka.admin, "dispute-tests")
    kafka_subscribers.register_refund_consumer(broker, object(), LIMIT, topic=topic)  # type: ignore[arg-type]
    valid = [RefundIssued(event_id=uuid4(), refund_id=f"R-{n}", dispute_id=uuid4(), amount=Decimal("1.00"),
                          currency="USD", occurred_at=NOW, causation_id="E-1", provider_reference="re_1")
             for n in range(20)]
    run = Run(topic, kafka)
    await running(broker)
    try:
        await run.produce(bad_batch(REFUNDS), [(str(v.event_id), v.kafka_value()) for v in valid])
        last = run.valid_ids[-1]
        assert await eventually(lambda: handled[last])
    finally:
        await stopped(broker)
    assert handled == Counter({valid_id: 1 for valid_id in run.valid_ids})
    await run.assert_dead_letters(kafka_subscribers.GROUP)


async def test_bad_dispute_events_are_dead_lettered_by_both_consumers_which_keep_going(pg_url, kafka):
    topic = f"it-{uuid4().hex[:8]}.disputes.events"
    await own_topics(kafka, topic, ("notification", "refund"))
    engine = sqlalchemy_engine(pg_url)
    inbox, refunds = NotificationStore(engine), CountingRefundStore(engine)
    inbox.create_tables()
    refunds.create_tables()
    notification_side = kafka_broker(kafka.admin, "notification-tests")
    refund_side = kafka_broker(kafka.admin, "refund-tests")
    register_notification(notification_side, inbox, NotifyConfig(topic=topic, max_record_bytes=LIMIT,
                                                                  email_fallback_domain=""))
    # a DisputeOpened asks for no payment: the desk and the gate are never called
    register_refund_disputes(refund_side, refunds, RefundDesk(refunds, None, None),  # type: ignore[arg-type]
                             TrustGate(refunds, TrustMetrics()), topic, pause=0.1, max_record_bytes=LIMIT)
    valid = [opened(buyer=f"B-{uuid4().hex[:6]}", seller=f"S-{uuid4().hex[:6]}") for _ in range(20)]
    run = Run(topic, kafka)
    await running(notification_side, refund_side)
    try:
        await run.produce(bad_batch(DISPUTES), [(str(v.event_id), v.kafka_value()) for v in valid])
        last = valid[-1]
        assert await eventually(lambda: inbox.inbox(last.payload["seller_id"]) and refunds.handled[str(last.event_id)])
    finally:
        await stopped(notification_side, refund_side)
    for envelope in valid:  # each party told once, of this event only
        for party in (envelope.payload["buyer_id"], envelope.payload["seller_id"]):
            assert [n["event_id"] for n in inbox.inbox(party)] == [str(envelope.event_id)]
    assert refunds.handled == Counter({valid_id: 1 for valid_id in run.valid_ids})
    await run.assert_dead_letters("notification")
    # The refund service reads only records that may name a type it handles (its prefilter,
    # services/refund/dispute_consumer.cannot_be_handled): it dead-letters every bad one of
    # those; the others are none of its business, and the notification service refuses them.
    might_be_handled = [s for s in run.sent if s.bad is not None and not refund_skips(s.body)]
    assert might_be_handled and len(might_be_handled) < len([s for s in run.sent if s.bad])
    await run.assert_dead_letters("refund", skips_unknown_types=True, unread=refund_skips)


def refund_skips(value: bytes) -> bool:
    return cannot_be_handled(ConsumerRecord(topic="t", partition=0, offset=0, timestamp=0,
                                            timestamp_type=0, key=None, value=value, checksum=None,
                                            serialized_key_size=0, serialized_value_size=len(value),
                                            headers=[]))


async def test_a_record_with_headers_that_are_not_text_is_handled_on_its_body_and_the_consumer_goes_on(
        pg_url, kafka):
    """Headers are anyone's input and only trace a record (the body is the contract): bytes
    that are not UTF-8, or a header without a value, must neither stop the consumer nor lose
    the record."""
    topic = f"it-{uuid4().hex[:8]}.orders.events"
    await own_topics(kafka, topic, (kafka_subscribers.GROUP,))
    book = CountingBook(sqlalchemy_engine(pg_url))
    book.create_tables()
    broker = kafka_broker(kafka.admin, "dispute-tests")
    kafka_subscribers.register_order_consumer(broker, book, None, LIMIT, topic=topic)
    garbled, valueless, after = (order_placed(order_id=f"O-{uuid4().hex[:8]}") for _ in range(3))
    producer = idempotent_producer(kafka.admin, "dlq-tests")
    await broker.start()
    await producer.start()
    try:
        await producer.send_and_wait(topic, garbled.model_dump_json().encode(), key=b"k",
                                     headers=[("correlation-id", b"\xff\xfe"), ("ce_id", b"\xc3(")])
        await producer.send_and_wait(topic, valueless.model_dump_json().encode(), key=b"k",
                                     headers=[("correlation-id", None)])
        await producer.send_and_wait(topic, after.model_dump_json().encode(), key=b"k")
        assert await eventually(lambda: book.handled[str(after.event_id)], timeout=20)
    finally:
        await producer.stop()
        await broker.stop()
    assert book.handled == Counter({str(e.event_id): 1 for e in (garbled, valueless, after)})
