"""The `refunds.events` contract: strict, round-trips, and keeps its id when re-published."""

from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts.refunds import RefundFailed, RefundIssued, parse_refund_event, refund_event_id

AT = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def issued(**changes) -> RefundIssued:
    values = dict(event_id=refund_event_id("r-1", 1, "RefundIssued"), refund_id="r-1",
                  dispute_id=uuid4(), amount=Decimal("30.00"), currency="USD",
                  provider_reference="re_1", occurred_at=AT, causation_id="e-1")
    return RefundIssued(**{**values, **changes})


def test_a_refund_issued_round_trips_through_json():
    event = issued()
    assert parse_refund_event(event.kafka_value()) == event


def test_a_refund_failed_round_trips_through_json():
    event = RefundFailed(event_id=uuid4(), refund_id="r-1", dispute_id=uuid4(),
                         amount=Decimal("30.00"), currency="USD", reason="CARD_EXPIRED",
                         retryable=False, occurred_at=AT, causation_id="e-1")
    assert parse_refund_event(event.kafka_value()) == event


def test_amounts_travel_as_decimal_strings():
    assert b'"amount":"30.00"' in issued().kafka_value()


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        parse_refund_event(issued().kafka_value().replace(b'{', b'{"surprise":1,', 1))


def test_a_refund_of_nothing_is_refused():
    with pytest.raises(ValidationError):
        issued(amount=Decimal("0"))


def test_the_event_id_is_the_same_each_time_a_result_is_published():
    assert refund_event_id("r-1", 1, "RefundIssued") == refund_event_id("r-1", 1, "RefundIssued")


def test_an_operator_retry_gets_a_new_event_id():
    assert refund_event_id("r-1", 1, "RefundFailed") != refund_event_id("r-1", 2, "RefundFailed")


def test_the_kafka_key_is_the_dispute_id():
    event = issued()
    assert event.kafka_key() == str(event.dispute_id).encode()
