"""The refund service's prefilter (services/refund/dispute_consumer.cannot_be_handled): a
dispute event is committed unread only when its value cannot name a handled event type."""

from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from services.refund.dispute_consumer import cannot_be_handled
from services.refund.policy import HANDLED_EVENTS
from tests.support.envelopes import OPENED, appeal_decided_payload, resolved_payload
from tests.support.orders import NOW

PAYLOADS = {"DisputeOpened": OPENED, "Resolved": resolved_payload("30.00"),
            "AppealDecided": appeal_decided_payload("10.00"),
            "RefundedOutsideDispute": {"order_event_id": "E-1", "refunded_before": "5.00"},
            "MessagePosted": {"message_id": "M-1", "visibility": "PARTIES"}}


def raw(value: bytes, headers=()) -> ConsumerRecord:
    return ConsumerRecord(topic="t", partition=0, offset=0, timestamp=0, timestamp_type=0, key=b"k",
                          value=value, checksum=None, serialized_key_size=1,
                          serialized_value_size=len(value), headers=list(headers))


def envelope_of(event_type: str) -> EventEnvelope:
    dispute = uuid4()
    return EventEnvelope(event_id=event_id_for(dispute, 2), event_type=event_type, schema_version=1,
                         dispute_id=dispute, dispute_version=2, occurred_at=NOW, correlation_id="c-1",
                         actor=ActorRef(role="buyer", id="B-1"), payload=PAYLOADS[event_type])


@pytest.mark.parametrize("event_type", sorted(HANDLED_EVENTS))
def test_every_handled_event_is_read(event_type):
    assert set(PAYLOADS) >= HANDLED_EVENTS
    assert not cannot_be_handled(raw(envelope_of(event_type).kafka_value()))


def test_a_message_posted_is_committed_unread():
    assert cannot_be_handled(raw(envelope_of("MessagePosted").kafka_value()))


def test_a_header_naming_an_ignored_type_does_not_hide_a_resolution():
    resolved = envelope_of("Resolved")
    headers = [("ce_type", b"com.dispute-platform.MessagePosted"), ("event-type", b"MessagePosted")]
    assert not cannot_be_handled(raw(resolved.kafka_value(), headers))


def test_a_handled_type_spelled_with_json_escapes_is_read():
    value = envelope_of("MessagePosted").kafka_value().replace(b'"MessagePosted"', b'"\\u0052esolved"')
    assert not cannot_be_handled(raw(value))


def test_a_message_quoting_a_handled_name_is_read_the_whole_way():
    value = envelope_of("MessagePosted").kafka_value().replace(b'"M-1"', b'"Resolved-1"')
    assert not cannot_be_handled(raw(value))
