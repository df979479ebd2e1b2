"""Every envelope's Kafka headers follow the CloudEvents 1.0 Kafka binding (binary mode)."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from contracts.envelope import ActorRef, EventEnvelope, event_id_for


def an_envelope(**changes) -> EventEnvelope:
    dispute_id = uuid4()
    fields = dict(event_id=event_id_for(dispute_id, 2), event_type="OfferMade", schema_version=1,
                  dispute_id=dispute_id, dispute_version=2,
                  occurred_at=datetime(2026, 3, 10, 14, 0, tzinfo=timezone(timedelta(hours=2))),
                  correlation_id="corr-1", actor=ActorRef(role="seller", id="S-1"),
                  payload={"amount": "10.00", "currency": "USD"})
    return EventEnvelope(**(fields | changes))


def test_the_cloudevents_headers_carry_id_subject_type_and_utc_time():
    envelope = an_envelope()
    headers = dict(envelope.kafka_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == str(envelope.event_id).encode()
    assert headers["ce_subject"] == str(envelope.dispute_id).encode()
    assert headers["ce_type"] == b"com.dispute-platform.OfferMade"
    assert headers["ce_source"] == b"urn:dispute-platform:dispute-service"
    assert headers["ce_time"] == b"2026-03-10T12:00:00Z"


def test_a_cloudevents_sdk_reads_the_record_as_it_is_published():
    envelope = an_envelope()
    message = KafkaMessage(headers=dict(envelope.kafka_headers()), key=envelope.kafka_key(),
                           value=envelope.kafka_value())
    event = from_binary(message, JSONFormat())
    assert (event.get_id(), event.get_subject(), event.get_datacontenttype()) == (
        str(envelope.event_id), str(envelope.dispute_id), "application/json")
    assert event.get_data()["payload"] == {"amount": "10.00", "currency": "USD"}


def test_the_headers_are_ours_then_the_cloudevents_ones_in_a_fixed_order():
    assert [name for name, _ in an_envelope().kafka_headers()] == [
        "event-type", "schema-version", "correlation-id", "content-type", "ce_specversion",
        "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"]
