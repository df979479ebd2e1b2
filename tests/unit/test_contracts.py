"""The public `disputes.events` contract and the translation seam that fills it.

Events are made by the real aggregate (tests/unit/domain/support.py), so a domain attribute the
contract does not know fails here before it fails the relay.
"""

from __future__ import annotations

from decimal import Decimal
from typing import get_args

import pytest
from eventsourcing.domain import Aggregate
from pydantic import ValidationError

from contracts import disputes as public
from contracts.envelope import EventEnvelope
from services.dispute.domain import Dispute, values
from services.dispute.adapters.translation import (
    INTERNAL, PUBLIC_EVENTS, UnmappedDomainEvent, is_public, to_envelope, to_kafka_record, to_payload,
)
from tests.unit.domain.support import (
    OPERATOR, SELLER, accept, accept_claim, acknowledge, add_evidence, appeal, confirm_replacement, day,
    decide, decide_appeal, escalate, expire, feedback, offer, open_dispute, post_message,
    refund_failed, refund_issued, refunded_outside, reject, reject_claim, reply_to_feedback,
    request_evidence, ship_replacement,
    ship_return, terms, withdraw,
)

META = {"correlation_id": "corr-1", "causation_id": None}


def events_of(dispute: Dispute, *commands) -> list:
    for command in commands:
        command(dispute)
    return dispute.collect_events()


def negotiated_review_appeal() -> list:
    return events_of(
        open_dispute(), offer("A", "20.00"), reject("A", counter=terms("B", "60.00")),
        offer("C", "40.00", at=day(3)), escalate(at=day(4)), request_evidence(at=day(4.5)),
        add_evidence("E-2", at=day(5)), post_message("M-1", by=SELLER, at=day(5)),
        post_message("M-2", visibility="PLATFORM_ONLY", by=OPERATOR, at=day(5)),
        decide("PARTIAL", "45.00", at=day(6)), refund_failed("R-1", at=day(6.5)),
        refund_issued("R-1", "45.00", at=day(7)), add_evidence("S-new", by=SELLER, at=day(8)),
        appeal("AP-1", ["S-new"], by=SELLER, at=day(8)),
        decide_appeal(outcome="UPHELD", extra_refund=None, at=day(9)), feedback(4, at=day(10)),
        reply_to_feedback(at=day(11)))


def every_kind_of_event() -> list:
    return [
        *negotiated_review_appeal(),
        *events_of(open_dispute(), offer("A", "30.00", at=day(0.5)), withdraw(at=day(1))),
        *events_of(open_dispute(), offer("A", "30.00"), expire(day(7))),
        *events_of(open_dispute(request="RETURN_AND_REFUND", amount="100.00"), accept_claim(),
                   ship_return(at=day(2)), acknowledge(at=day(5))),
        *events_of(open_dispute(request="REPLACEMENT"), accept_claim(), ship_replacement(),
                   confirm_replacement()),
        *events_of(open_dispute(), reject_claim(), refunded_outside("30.00")),
        *events_of(open_dispute(), offer("A", "30.00"), accept("A")),
        *events_of(open_dispute(), escalate(at=day(4)), decide("SELLER_FAVOUR", None),
                   add_evidence("E-new", at=day(6)), appeal("AP-1", ["E-new"], at=day(6)),
                   decide_appeal(outcome="OVERTURNED", extra_refund="50.00")),
    ]


def domain_event_names() -> set[str]:
    return {name for name, value in vars(Dispute).items() if isinstance(value, type)
            and issubclass(value, Aggregate.Event) and name not in {"Event", "Created"}}


def payload_of(events: list, event_type: str, n: int = 0) -> dict:
    envelopes = [to_envelope(e, META) for e in events if is_public(e)]
    return [e.payload for e in envelopes if e.event_type == event_type][n]


def test_every_domain_event_has_a_public_contract():
    assert set(PUBLIC_EVENTS) == domain_event_names()
    assert set(INTERNAL) <= set(PUBLIC_EVENTS)


def test_every_contract_is_filled_by_exactly_one_domain_event():
    models = [model for model, _ in PUBLIC_EVENTS.values()]
    assert sorted(m.event_type for m in models) == sorted(public.REGISTRY)
    assert set(models) == set(public.LATEST_MODELS)


def test_the_scenarios_publish_every_public_event_type():
    published = {to_envelope(e, META).event_type for e in every_kind_of_event() if is_public(e)}
    assert published == set(public.REGISTRY)


def test_every_published_payload_reads_back_as_its_contract():
    for event in filter(is_public, every_kind_of_event()):
        envelope = EventEnvelope.model_validate_json(to_envelope(event, META).kafka_value())
        assert envelope.schema_version == public.REGISTRY[envelope.event_type][0]
        assert public.parse_payload(envelope) == to_payload(event)


def test_dispute_opened_carries_the_order_facts_and_deadlines():
    payload = payload_of(every_kind_of_event(), "DisputeOpened")
    assert {k: payload[k] for k in ("order_id", "item_id", "buyer_id", "seller_id",
                                    "paid_amount", "currency")} == {
        "order_id": "O-1", "item_id": "I-1", "buyer_id": "B-1", "seller_id": "S-1",
        "paid_amount": "100.00", "currency": "USD"}
    assert payload["deadlines"] == {"SELLER_RESPONSE": "2025-03-15T12:00:00Z",
                                    "NEGOTIATION_MAX": "2025-03-25T12:00:00Z"}


def test_resolved_states_the_refund_as_a_decimal_string_even_when_nothing_is_refunded():
    events = events_of(open_dispute(), escalate(at=day(4)), decide("SELLER_FAVOUR", None))
    payload = payload_of(events, "Resolved")
    assert (payload["refund_amount"], payload["currency"], payload["outcome"],
            payload["resolved_by"]) == ("0", "USD", "SELLER_FAVOUR", "PLATFORM_DECISION")


def test_appeal_decided_names_the_extra_refund_refund_amount():
    assert payload_of(every_kind_of_event(), "AppealDecided", 1)["refund_amount"] == "50.00"
    upheld = payload_of(negotiated_review_appeal(), "AppealDecided")
    assert (upheld["refund_amount"], upheld["currency"]) == ("0", "USD")
    assert "extra_refund" not in upheld


def test_a_message_is_announced_without_its_text():
    assert payload_of(negotiated_review_appeal(), "MessagePosted") == {
        "message_id": "M-1", "visibility": "PARTIES"}


def test_platform_only_messages_stay_internal():
    messages = [e for e in negotiated_review_appeal() if type(e).__name__ == "MessagePosted"]
    assert [is_public(m) for m in messages] == [True, False]


def test_datetimes_are_published_in_utc_with_a_z():
    payload = payload_of(negotiated_review_appeal(), "OfferMade")
    assert payload["respond_by"] == "2025-03-16T12:00:00Z"


def test_a_domain_attribute_the_contract_does_not_know_fails_the_translation():
    event = events_of(open_dispute(), escalate(at=day(4)), decide())[-1]
    object.__setattr__(event, "refund_amont", Decimal("1"))
    with pytest.raises(ValidationError, match="refund_amont"):
        to_envelope(event, META)


def test_the_relays_one_pass_record_is_the_envelopes_key_value_and_headers_byte_for_byte():
    for meta in (META, {"correlation_id": None, "causation_id": "cause-1"}):
        for event in (e for e in every_kind_of_event() if is_public(e)):
            envelope, record = to_envelope(event, meta), to_kafka_record(event, meta)
            assert (record.key, record.value, record.headers) == (
                envelope.kafka_key(), envelope.kafka_value(), envelope.kafka_headers())


def test_the_relays_one_pass_record_checks_the_payload_against_its_contract():
    event = events_of(open_dispute(), escalate(at=day(4)), decide())[-1]
    object.__setattr__(event, "refund_amont", Decimal("1"))
    with pytest.raises(ValidationError, match="refund_amont"):
        to_kafka_record(event, META)
    object.__delattr__(event, "refund_amont")
    object.__setattr__(event, "refund_amount", "a lot")
    with pytest.raises(ValidationError, match="refund_amount"):
        to_kafka_record(event, META)


def test_a_domain_event_without_a_contract_fails_the_translation():
    class Renamed(Dispute.Closed):
        pass

    event = object.__new__(Renamed)
    with pytest.raises(UnmappedDomainEvent):
        to_envelope(event, META)


def test_contracts_reject_unknown_fields_and_floats_and_are_frozen():
    good = payload_of(negotiated_review_appeal(), "RefundIssued")
    with pytest.raises(ValidationError, match="extra"):
        public.RefundIssued.model_validate({**good, "extra": 1})
    with pytest.raises(ValidationError, match="floats"):
        public.RefundIssued.model_validate({**good, "amount": 45.0})
    with pytest.raises(ValidationError):
        public.RefundIssued.model_validate(good).amount = Decimal("1")


@pytest.mark.parametrize("literal, enum", [
    (public.Reason, values.Reason), (public.RequestType, values.RequestType),
    (public.Outcome, values.Outcome), (public.ResolvedBy, values.ResolvedBy),
    (public.DeadlineName, values.Deadline), (public.EscalationTrigger, values.EscalationTrigger),
    (public.ReturnCondition, values.ReturnCondition), (public.AppealOutcome, values.AppealOutcome),
    (public.CloseReason, values.CloseReason),
])
def test_contract_enumerations_match_the_domain(literal, enum):
    assert set(get_args(literal)) == {member.value for member in enum}


def test_the_remedy_of_a_resolution_is_a_request_type_or_none():
    assert set(get_args(public.Remedy)) == set(get_args(public.RequestType)) | {values.NO_REMEDY}
