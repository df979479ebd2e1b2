from decimal import Decimal

from tests.unit.domain.support import (
    BUYER, OPERATOR, SELLER, add_evidence, day, decide, given, refused, request_evidence, when,
)


def test_the_operator_requests_evidence_with_a_due_date(dispute_under_review):
    assert when(dispute_under_review, request_evidence(at=day(5))) == ["EvidenceRequested"]
    assert dispute_under_review.deadlines == {"EVIDENCE_REQUEST": day(8)}


def test_evidence_from_the_asked_party_answers_the_request(dispute_under_review):
    given(dispute_under_review, request_evidence(at=day(5)))
    assert when(dispute_under_review, add_evidence("E-9", at=day(6))) == ["EvidenceAdded"]
    assert dispute_under_review.evidence_request.status == "ANSWERED"
    assert dispute_under_review.deadlines == {}


def test_evidence_from_the_other_party_leaves_the_request_open(dispute_under_review):
    given(dispute_under_review, request_evidence(at=day(5)))
    when(dispute_under_review, add_evidence("E-9", by=SELLER, at=day(6)))
    assert dispute_under_review.evidence_request.status == "OPEN"


def test_only_an_operator_requests_evidence(dispute_under_review):
    assert refused(dispute_under_review, request_evidence(by=SELLER)) == "FORBIDDEN"


def test_evidence_is_requested_from_a_party(dispute_under_review):
    assert refused(dispute_under_review, request_evidence(from_party="operator")) == (
        "VALIDATION_FAILED")


def test_one_evidence_request_at_a_time(dispute_under_review):
    given(dispute_under_review, request_evidence("RQ-1"))
    assert refused(dispute_under_review, request_evidence("RQ-2", from_party="seller")) == (
        "INVALID_TRANSITION")


def test_evidence_is_not_requested_during_negotiation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, request_evidence()) == "INVALID_TRANSITION"


def test_a_decision_for_the_buyer_resolves_with_the_refund(dispute_under_review):
    assert when(dispute_under_review, decide("BUYER_FAVOUR", "100.00")) == ["Resolved"]
    resolution = dispute_under_review.resolution
    assert (resolution.outcome, resolution.resolved_by, resolution.remedy) == (
        "BUYER_FAVOUR", "PLATFORM_DECISION", "FULL_REFUND")


def test_a_partial_decision_is_a_partial_refund(dispute_under_review):
    when(dispute_under_review, decide("PARTIAL", "40.00"))
    assert dispute_under_review.resolution.remedy == "PARTIAL_REFUND"
    assert dispute_under_review.resolution.refund_amount == Decimal("40.00")


def test_a_decision_for_the_seller_refunds_nothing(dispute_under_review):
    when(dispute_under_review, decide("SELLER_FAVOUR", None))
    assert dispute_under_review.resolution.remedy == "NONE"
    assert dispute_under_review.resolution.refund_amount == Decimal("0")


def test_a_decision_lapses_the_open_offer(dispute_under_review):
    when(dispute_under_review, decide("SELLER_FAVOUR", None))
    assert dispute_under_review.offers["A"].status == "LAPSED"
    assert dispute_under_review.current_offer_id is None


def test_a_decision_starts_the_appeal_window(dispute_under_review):
    when(dispute_under_review, decide(at=day(5)))
    assert dispute_under_review.deadlines == {"APPEAL_WINDOW": day(20)}


def test_a_decision_may_order_a_return_first(dispute_under_review):
    assert when(dispute_under_review, decide("BUYER_FAVOUR", "100.00", return_required=True)) == [
        "ReturnRequested"]
    assert dispute_under_review.return_shipment.resolved_by == "PLATFORM_DECISION"
    assert dispute_under_review.status == "AWAITING_RETURN_SHIPMENT"


def test_a_decision_for_the_seller_with_a_refund_fails_validation(dispute_under_review):
    assert refused(dispute_under_review, decide("SELLER_FAVOUR", "10.00")) == "VALIDATION_FAILED"


def test_a_decision_for_the_buyer_without_an_amount_fails_validation(dispute_under_review):
    assert refused(dispute_under_review, decide("BUYER_FAVOUR", None)) == "VALIDATION_FAILED"


def test_a_decision_above_the_refundable_amount_is_refused(dispute_under_review):
    assert refused(dispute_under_review, decide("BUYER_FAVOUR", "150.00")) == (
        "REFUND_EXCEEDS_REFUNDABLE_AMOUNT")


def test_a_decision_in_another_currency_is_refused(dispute_under_review):
    assert refused(dispute_under_review, decide(currency="EUR")) == "CURRENCY_MISMATCH"


def test_an_agreed_outcome_is_not_the_operators_to_decide(dispute_under_review):
    assert refused(dispute_under_review, decide("AGREED")) == "VALIDATION_FAILED"


def test_only_an_operator_decides(dispute_under_review):
    assert refused(dispute_under_review, decide(by=BUYER)) == "FORBIDDEN"


def test_deciding_during_negotiation_is_an_invalid_transition(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, decide(by=OPERATOR)) == "INVALID_TRANSITION"


def test_deciding_twice_is_already_resolved(dispute_resolved_for_buyer):
    assert refused(dispute_resolved_for_buyer, decide(at=day(6))) == "DISPUTE_ALREADY_RESOLVED"
