"""The relay publishes the PostgreSQL event store to a real Kafka broker."""

import asyncio
import json
from uuid import uuid4

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from contracts.envelope import EventEnvelope, event_id_for
from services.common.kafka import ensure_topics, idempotent_producer
from services.dispute.adapters.event_store import command_context
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.relay.relay import Relay, RelayPosition
from services.common.database import sqlalchemy_engine
from services.dispute.settings import DisputeSettings
from tests.support.kafka import read_topic
from tests.support.orders import NOW, order_placed

pytestmark = pytest.mark.integration


def open_disputes(app, count: int) -> list:
    disputes = []
    for n in range(count):
        order = OrderBook.facts_from(order_placed(order_id=f"O-{n}"))
        with command_context(correlation_id=f"corr-{n}"):
            disputes.append(app.open_dispute(
                order=order, item_id="I-1", actor=Actor(Role.BUYER, "B-1"), reason="DAMAGED",
                request="FULL_REFUND", request_amount=None, description="", at=NOW))
    return disputes


@pytest.fixture
def relay_parts(pg_url, kafka):
    settings = DisputeSettings(database_url=pg_url, **kafka.settings())
    app = build_application(settings)
    position = RelayPosition(sqlalchemy_engine(pg_url))
    position.create_tables()
    return app, position, f"disputes.events.{uuid4().hex[:8]}"


async def relay_once(app, position, topic, connection):
    await ensure_topics(connection, {topic: {}}, partitions=1)  # provisioned, as in production
    producer = idempotent_producer(connection, "test-relay")
    await producer.start()
    try:
        return await Relay(app, producer, position, batch_size=50, topic=topic).publish_next_batch()
    finally:
        await producer.stop()


async def test_the_relay_publishes_each_stored_event_as_an_envelope(relay_parts, kafka):
    app, position, topic = relay_parts
    [dispute] = open_disputes(app, 1)
    assert await relay_once(app, position, topic, kafka.admin) == 1
    [record] = await read_topic(kafka.admin, topic, expect=1)
    envelope = EventEnvelope.model_validate_json(record.value)
    assert (envelope.event_type, envelope.dispute_id, envelope.correlation_id) == (
        "DisputeOpened", dispute.id, "corr-0")
    assert envelope.event_id == event_id_for(dispute.id, 1)
    assert record.key == str(dispute.id).encode()
    headers = dict(record.headers)
    assert headers["event-type"] == b"DisputeOpened" and headers["content-type"] == b"application/json"
    assert json.loads(record.value)["payload"]["paid_amount"] == "100.00"


async def test_the_relay_resumes_after_its_recorded_position(relay_parts, kafka):
    app, position, topic = relay_parts
    open_disputes(app, 3)
    await relay_once(app, position, topic, kafka.admin)
    assert await relay_once(app, position, topic, kafka.admin) == 0
    assert len(await read_topic(kafka.admin, topic, expect=4, timeout=3)) == 3


async def test_a_cloudevents_sdk_reads_a_published_record_without_custom_code(relay_parts, kafka):
    app, position, topic = relay_parts
    [dispute] = open_disputes(app, 1)
    await relay_once(app, position, topic, kafka.admin)
    [record] = await read_topic(kafka.admin, topic, expect=1)
    event = from_binary(KafkaMessage(headers=dict(record.headers), key=record.key,
                                     value=record.value), JSONFormat())
    assert (event.get_specversion(), event.get_type(), event.get_subject()) == (
        "1.0", "com.dispute-platform.DisputeOpened", str(dispute.id))
    assert event.get_id() == str(event_id_for(dispute.id, 1))
    assert event.get_time() is not None and event.get_data()["dispute_version"] == 1



async def test_an_unpublishable_event_blocks_the_relay_there_and_nothing_after_it_is_skipped(
        relay_parts, kafka, monkeypatch):
    import services.dispute.relay.relay as relay_module
    from services.dispute.relay.relay import RelayBlocked

    app, position, topic = relay_parts
    [dispute] = open_disputes(app, 1)
    for n in range(2):
        app.execute(dispute.id, NOW, lambda d, n=n: d.post_message(
            message_id=f"M-{n}", text="hello", actor=Actor(Role.BUYER, "B-1"), at=NOW))
    translate = relay_module.stored_kafka_record

    def refuses_version_2(stored, mapper):
        if stored.originator_version == 2:
            raise ValueError("the contract refuses this payload")
        return translate(stored, mapper)

    monkeypatch.setattr(relay_module, "stored_kafka_record", refuses_version_2)
    with pytest.raises(RelayBlocked) as blocked:
        await relay_once(app, position, topic, kafka.admin)
    assert blocked.value.notification_id == position.get() + 1  # stopped right before it
    monkeypatch.setattr(relay_module, "stored_kafka_record", translate)  # the fix is deployed
    assert await relay_once(app, position, topic, kafka.admin) == 2
    records = await read_topic(kafka.admin, topic, expect=3)
    assert [EventEnvelope.model_validate_json(r.value).dispute_version for r in records] == [1, 2, 3]


def test_a_relay_whose_position_was_moved_by_another_stands_down_instead_of_pulling_it_back(relay_parts):
    from services.dispute.relay.lock import LockLost

    _, position, _ = relay_parts
    position.advance(0, 10)
    position.advance(10, 20)  # the other, current relay
    with pytest.raises(LockLost):
        position.advance(10, 15)  # a relay that lost its lock unnoticed
    assert position.get() == 20
