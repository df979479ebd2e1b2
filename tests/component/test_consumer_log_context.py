"""A record's correlation id, event id and dispute id (from its Kafka headers) are bound to
every log line its consumer writes, the dead-letter path included, on every broker."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import structlog
from faststream import AckPolicy
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts.refunds import RefundIssued
from services.common.consumers import handle_or_dead_letter
from services.common.kafka import KafkaConnection, kafka_broker
from services.common.log_context import record_context

HEADERS = {"correlation-id": "c-from-http", "ce_id": "e-1", "ce_subject": "d-1", "event-type": "Resolved"}


async def test_a_handler_and_its_dead_letter_see_the_records_ids_bound():
    seen: list[dict] = []
    dead: list[dict] = []
    broker = kafka_broker(KafkaConnection("127.0.0.1:9"), "log-context-test")

    @broker.subscriber("disputes", group_id="g", ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_event(message: KafkaMessage) -> None:
        async def handle() -> None:
            seen.append(structlog.contextvars.get_contextvars())
            raise ValueError("never handled")

        await handle_or_dead_letter(broker, "disputes.dlq.g", message, handle)

    @broker.subscriber("disputes.dlq.g", group_id="dlq")
    async def on_dead_letter(message: KafkaMessage) -> None:
        dead.append(message.headers)

    async with TestKafkaBroker(broker) as running:
        await running.publish(b"{}", topic="disputes", headers=HEADERS)
    assert seen == [{"correlation_id": "c-from-http", "event_id": "e-1", "dispute_id": "d-1"}]
    # the dead letter keeps what traces it, not every header of the record
    assert {k: dead[0].get(k) for k in ("correlation-id", "ce_id", "ce_subject", "event-type")} == {
        "correlation-id": "c-from-http", "ce_id": "e-1", "ce_subject": "d-1", "event-type": None}
    assert structlog.contextvars.get_contextvars() == {}  # unbound once the record is done


def test_a_refund_result_names_its_event_and_dispute_in_its_headers():
    event = RefundIssued(event_id=uuid4(), refund_id="r-1", dispute_id=uuid4(), amount=Decimal("1.00"),
                         currency="USD", occurred_at=datetime.now(timezone.utc), causation_id="e-0",
                         correlation_id="c-9", provider_reference="re_1")
    headers = {name: value.decode() for name, value in event.kafka_headers()}
    assert record_context(headers) == {"correlation_id": "c-9", "event_id": str(event.event_id),
                                       "dispute_id": str(event.dispute_id)}


def test_an_overlong_header_is_cut_before_it_reaches_every_line():
    assert record_context({"correlation-id": "x" * 10_000}) == {"correlation_id": "x" * 128}
