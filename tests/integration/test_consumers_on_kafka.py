"""Consumers on a real broker: order events feed the order book, poison goes to the DLQ,
and a redelivered dispute event makes no second inbox entry."""

from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker

from services.common.kafka import kafka_broker

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from contracts.topics import DISPUTES_EVENTS, ORDERS_EVENTS, dead_letter_topic
from services.common.database import sqlalchemy_engine
from services.common.topics import ensure_platform_topics
from services.dispute.entrypoints.kafka_subscribers import register_order_consumer
from services.dispute.adapters.order_book import OrderBook
from services.notification.consumer import register_dispute_consumer
from services.notification.store import NotificationStore
from tests.support.envelopes import opened_payload
from tests.support.kafka import drain_topic, eventually, read_topic
from tests.support.orders import NOW, order_delivered, order_placed

pytestmark = pytest.mark.integration


async def publish(broker, topic, *messages, key=b"k"):
    for message in messages:
        body = message if isinstance(message, bytes) else message.model_dump_json().encode()
        await broker.publish(body, topic=topic, key=key)


async def test_order_events_reach_the_book_once_and_poison_goes_to_the_dlq(pg_url, kafka):
    book = OrderBook(sqlalchemy_engine(pg_url))
    book.create_tables()
    broker = kafka_broker(kafka.admin, "tests")
    register_order_consumer(broker, book)
    order_id = f"O-{uuid4().hex[:6]}"
    placed = order_placed(order_id=order_id)
    await broker.start()
    try:
        await publish(broker, ORDERS_EVENTS, order_delivered(order_id=order_id), b'{"not": "an order"}',
                      placed, placed, key=order_id.encode())
        facts = await eventually(lambda: book.facts(order_id))
    finally:
        await broker.stop()
    assert facts is not None and facts.delivered_at is not None
    assert facts.items == {"I-1": placed.items[0].amount}
    # the DLQ is shared with other tests of the session: only this test's record (its key) counts
    dlq = [r for r in await drain_topic(kafka.admin, dead_letter_topic(ORDERS_EVENTS, "dispute"))
           if r.key == order_id.encode()]
    assert [r.value for r in dlq] == [b'{"not": "an order"}']
    assert "dlq-error" in dict(dlq[0].headers)


def opened_envelope() -> EventEnvelope:
    """A whole DisputeOpened (consumers read the payload through its contract)."""
    dispute_id = uuid4()
    return EventEnvelope(
        event_id=event_id_for(dispute_id, 1), event_type="DisputeOpened", schema_version=1,
        dispute_id=dispute_id, dispute_version=1, occurred_at=NOW, correlation_id="c-1",
        actor=ActorRef(role="buyer", id="B-1"), payload=opened_payload(seller_id="S-7"))


async def test_a_redelivered_dispute_event_makes_no_second_notification(pg_url, kafka):
    await ensure_platform_topics(kafka.admin, partitions=6)
    store = NotificationStore(sqlalchemy_engine(pg_url))
    store.create_tables()
    broker = kafka_broker(kafka.admin, "tests")
    register_dispute_consumer(broker, store)
    envelope = opened_envelope()
    await broker.start()
    try:
        await publish(broker, DISPUTES_EVENTS, envelope, envelope, key=str(envelope.dispute_id).encode())
        await eventually(lambda: store.inbox("S-7"))
        marker = opened_envelope()
        # same key, same partition: once the marker is handled, so are the duplicates before it
        await publish(broker, DISPUTES_EVENTS, marker, key=str(envelope.dispute_id).encode())
        await eventually(lambda: len(store.inbox("S-7")) >= 2)
    finally:
        await broker.stop()
    seller_inbox = store.inbox("S-7")
    assert sorted(n["event_id"] for n in seller_inbox) == sorted([str(envelope.event_id),
                                                                  str(marker.event_id)])


async def test_a_refund_result_that_fails_for_good_is_dead_lettered_and_the_next_is_recorded(
        pg_url, kafka, monkeypatch):
    from decimal import Decimal

    import services.dispute.entrypoints.kafka_subscribers as consumers
    from contracts.refunds import RefundIssued
    from contracts.topics import REFUNDS_EVENTS
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    await ensure_platform_topics(kafka.admin, partitions=6)
    app = build_application(DisputeSettings(database_url=pg_url))
    seen = []

    def record(disputes, result):
        if result.refund_id == "R-BUG":
            raise TypeError("a bug, not an outage")
        seen.append(result.refund_id)

    monkeypatch.setattr(consumers, "record_refund_result", record)
    broker = kafka_broker(kafka.admin, "tests")
    consumers.register_refund_consumer(broker, app)
    dispute_id = uuid4()
    results = [RefundIssued(event_id=uuid4(), refund_id=refund_id, dispute_id=dispute_id,
                            amount=Decimal("1.00"), currency="USD", occurred_at=NOW,
                            causation_id="E-1", provider_reference="re_1")
               for refund_id in ("R-BUG", "R-OK")]
    await broker.start()
    try:
        await publish(broker, REFUNDS_EVENTS, *results, key=str(dispute_id).encode())
        await eventually(lambda: "R-OK" in seen)
    finally:
        await broker.stop()
    dlq = await read_topic(kafka.admin, dead_letter_topic(REFUNDS_EVENTS, "dispute"), expect=1)
    assert [RefundIssued.model_validate_json(r.value).refund_id for r in dlq] == ["R-BUG"]
    assert "TypeError" in dict(dlq[0].headers)["dlq-error"].decode()
    assert dict(dlq[0].headers)["dlq-reason"] == b"HANDLING_FAILED"
