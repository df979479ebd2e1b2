"""The nine example scenarios of DOMAIN.md, at the domain level (order O-1, item I-1, 100.00 USD).

Like the application, each step first applies the deadlines due at its time (`at`).
"""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from services.dispute.domain import Dispute, DomainError
from tests.unit.domain.support import (
    IDS, ORDER, POLICY, T0, Command, accept, acknowledge, add_evidence, day, decide, escalate, names,
    offer, open_dispute, photo, refund_issued, reject, request_evidence, ship_return, terms,
    withdraw,
)


def step(dispute: Dispute, at, command: Command) -> list[str]:
    """Applies the deadlines due at `at`, then the command; returns every event recorded."""
    dispute.expire_due_deadlines(at=at, policy=POLICY)
    command(dispute)
    return names(dispute.collect_events())


def code_of(dispute: Dispute, at, command: Command) -> str:
    dispute.expire_due_deadlines(at=at, policy=POLICY)
    dispute.collect_events()
    with pytest.raises(DomainError) as caught:
        command(dispute)
    assert dispute.collect_events() == []
    return caught.value.code


def test_1_a_partial_refund_is_agreed_and_refunded_once():
    dispute = open_dispute(request="FULL_REFUND", evidence=[photo("E-1"), photo("E-2")])
    assert names(dispute.collect_events()) == ["Opened", "EvidenceAdded", "EvidenceAdded"]
    assert step(dispute, day(1), offer("A", "30.00")) == ["SellerResponded", "OfferMade"]
    assert dispute.offers["A"].round == 1
    assert step(dispute, day(2), accept("A")) == ["OfferAccepted", "Resolved"]
    assert dispute.resolution.outcome == "AGREED"
    assert dispute.resolution.resolved_by == "AGREEMENT"
    assert dispute.resolution.refund_amount == Decimal("30.00")
    assert step(dispute, day(3), refund_issued("R-1", "30.00")) == ["RefundIssued"]
    assert step(dispute, day(3), refund_issued("R-1", "30.00")) == []
    assert dispute.refundable_amount == Decimal("70.00")


def test_2_a_seller_who_never_responds_loses_and_cannot_offer_late():
    dispute = open_dispute()
    dispute.collect_events()
    assert step(dispute, day(5), lambda d: None) == ["DeadlineMissed", "Resolved"]
    assert dispute.missed_deadlines == ["SELLER_RESPONSE"]
    assert (dispute.resolution.outcome, dispute.resolution.resolved_by,
            dispute.resolution.refund_amount) == ("BUYER_FAVOUR", "TIMEOUT_SELLER",
                                                     Decimal("100.00"))
    assert code_of(dispute, day(5.1), offer("A", at=day(5.1))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


def test_2_a_late_seller_offer_is_refused_even_before_the_timer_fires():
    dispute = open_dispute()
    dispute.collect_events()
    with pytest.raises(DomainError) as caught:
        offer("A", at=day(5))(dispute)
    assert caught.value.code == "DISPUTE_NOT_OPEN_FOR_NEGOTIATION"


def test_3_counter_offers_only_the_current_offer_can_be_accepted():
    dispute = open_dispute()
    step(dispute, day(1), offer("A", "20.00"))
    step(dispute, day(2), reject("A", counter=terms("B", "60.00")))
    assert step(dispute, day(3), offer("C", "40.00", at=day(3))) == [
        "OfferSuperseded", "OfferMade"]
    assert code_of(dispute, day(4), accept("A", at=day(4))) == "OFFER_NOT_CURRENT"
    assert step(dispute, day(4), accept("C", at=day(4))) == ["OfferAccepted", "Resolved"]
    assert dispute.resolution.refund_amount == Decimal("40.00")


def test_4_the_third_rejected_round_escalates_and_early_escalation_is_refused():
    dispute = open_dispute()
    assert code_of(dispute, day(1), escalate(at=day(1))) == "ESCALATION_NOT_YET_ALLOWED"
    for round_number, offer_id in enumerate("ABC", start=1):
        step(dispute, day(round_number), offer(offer_id, "10.00", at=day(round_number)))
        recorded = step(dispute, day(round_number + 0.5),
                        reject(offer_id, at=day(round_number + 0.5)))
    assert recorded == ["OfferRejected", "Escalated"]
    assert dispute.escalation.trigger == "MAX_ROUNDS_REACHED"
    assert dispute.status == "UNDER_REVIEW"


def test_5_the_same_item_always_maps_to_the_same_dispute():
    first = open_dispute()
    again = open_dispute(at=T0 + timedelta(hours=1))
    assert first.id == again.id == IDS.for_new_dispute("O-1", "I-1")


def test_5_item_not_received_before_the_promised_date_is_refused():
    early = replace(ORDER, promised_delivery_date=T0 + timedelta(days=3))
    with pytest.raises(DomainError) as caught:
        open_dispute(reason="ITEM_NOT_RECEIVED", order=early)
    assert caught.value.code == "PROMISED_DELIVERY_NOT_ELAPSED"


def test_6_return_and_refund():
    dispute = open_dispute(request="RETURN_AND_REFUND", amount="100.00")
    step(dispute, day(1), offer("A", "100.00", kind="RETURN_AND_REFUND"))
    assert step(dispute, day(2), accept("A")) == ["OfferAccepted", "ReturnRequested"]
    assert dispute.return_shipment.ship_by == day(12)
    assert step(dispute, day(4), ship_return(at=day(4))) == ["ReturnShipped"]
    assert step(dispute, day(8), acknowledge("ITEM_RECEIVED", at=day(8))) == [
        "ReturnReceived", "Resolved"]
    assert dispute.resolution.refund_amount == Decimal("100.00")
    assert step(dispute, day(9), refund_issued("R-1", "100.00", at=day(9))) == ["RefundIssued"]
    assert step(dispute, day(9), refund_issued("R-1", "100.00", at=day(9))) == []
    assert dispute.refundable_amount == Decimal("0.00")


def test_7_a_return_not_shipped_in_time_resolves_for_the_seller():
    dispute = open_dispute(request="RETURN_AND_REFUND", amount="100.00")
    step(dispute, day(1), offer("A", "100.00", kind="RETURN_AND_REFUND"))
    step(dispute, day(2), accept("A"))
    assert step(dispute, day(12), lambda d: None) == ["DeadlineMissed", "Resolved"]
    assert (dispute.resolution.outcome, dispute.resolution.resolved_by,
            dispute.resolution.refund_amount) == ("SELLER_FAVOUR", "TIMEOUT_BUYER",
                                                     Decimal("0"))
    assert code_of(dispute, day(13), ship_return(at=day(13))) == "RETURN_WINDOW_CLOSED"


def test_8_an_empty_box_goes_to_review_and_is_decided_on_what_is_there():
    dispute = open_dispute(request="RETURN_AND_REFUND", amount="100.00")
    step(dispute, day(1), offer("A", "100.00", kind="RETURN_AND_REFUND"))
    step(dispute, day(2), accept("A"))
    step(dispute, day(3), ship_return(at=day(3)))
    empty = acknowledge("EMPTY_PACKAGE_OR_DIFFERENT", evidence=[photo("S-1"), photo("S-2")],
                        at=day(6))
    assert step(dispute, day(6), empty) == [
        "ReturnReceived", "EvidenceAdded", "EvidenceAdded", "Escalated"]
    assert dispute.escalation.trigger == "RETURN_CONDITION_DISPUTED"
    assert (dispute.status, dispute.resolution) == ("UNDER_REVIEW", None)
    assert step(dispute, day(7), request_evidence(from_party="buyer", at=day(7))) == [
        "EvidenceRequested"]
    assert step(dispute, day(10), decide("SELLER_FAVOUR", None, at=day(10))) == [
        "DeadlineMissed", "Resolved"]
    assert dispute.missed_deadlines == ["EVIDENCE_REQUEST"]
    assert dispute.resolution.resolved_by == "PLATFORM_DECISION"


def test_9_a_withdrawal_withdraws_open_offers_and_ends_the_dispute_for_good():
    dispute = open_dispute(reason="ITEM_NOT_RECEIVED")
    step(dispute, day(1), offer("A", "50.00"))
    assert step(dispute, day(2), withdraw(at=day(2))) == ["OfferWithdrawn", "Withdrawn"]
    assert dispute.status == "WITHDRAWN"
    assert open_dispute(reason="ITEM_NOT_RECEIVED").id == dispute.id
    assert code_of(dispute, day(3), add_evidence(at=day(3))) == "INVALID_TRANSITION"

