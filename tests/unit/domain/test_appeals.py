from decimal import Decimal

from tests.unit.domain.support import (
    BUYER, OPERATOR, SELLER, add_evidence, appeal, close, day, decide, decide_appeal, expire,
    given,
    refused, when,
)


def test_the_losing_buyer_appeals_with_new_evidence(dispute_resolved_for_seller):
    given(dispute_resolved_for_seller, add_evidence("E-new", at=day(6)))
    assert when(dispute_resolved_for_seller, appeal(at=day(6))) == ["Appealed"]
    assert dispute_resolved_for_seller.status == "APPEALED"
    assert dispute_resolved_for_seller.awaiting == "operator"
    assert dispute_resolved_for_seller.deadlines == {}


def test_the_losing_seller_may_appeal(dispute_resolved_for_buyer):
    given(dispute_resolved_for_buyer, add_evidence("S-new", by=SELLER, at=day(6)))
    assert when(dispute_resolved_for_buyer, appeal(evidence_ids=["S-new"], by=SELLER)) == [
        "Appealed"]


def test_the_winning_party_may_not_appeal(dispute_resolved_for_buyer):
    given(dispute_resolved_for_buyer, add_evidence("E-new", at=day(6)))
    assert refused(dispute_resolved_for_buyer, appeal()) == "ONLY_LOSING_PARTY_MAY_APPEAL"


def test_an_agreement_cannot_be_appealed(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, add_evidence("E-new", at=day(3)))
    assert refused(dispute_resolved_by_agreement, appeal(at=day(3))) == (
        "ONLY_LOSING_PARTY_MAY_APPEAL")


def test_an_appeal_without_evidence_is_refused(dispute_resolved_for_seller):
    assert refused(dispute_resolved_for_seller, appeal(evidence_ids=[])) == (
        "APPEAL_REQUIRES_NEW_EVIDENCE")


def test_an_appeal_with_evidence_from_before_the_resolution_is_refused(dispute_under_review):
    given(dispute_under_review, add_evidence("E-old", at=day(4.5)),
          decide("SELLER_FAVOUR", None, at=day(5)))
    assert refused(dispute_under_review, appeal(evidence_ids=["E-old"])) == (
        "APPEAL_REQUIRES_NEW_EVIDENCE")


def test_an_appeal_with_unknown_evidence_is_refused(dispute_resolved_for_seller):
    assert refused(dispute_resolved_for_seller, appeal(evidence_ids=["E-404"])) == (
        "APPEAL_REQUIRES_NEW_EVIDENCE")


def test_an_appeal_with_the_other_partys_evidence_is_refused(dispute_resolved_for_seller):
    given(dispute_resolved_for_seller, add_evidence("S-new", by=SELLER, at=day(6)))
    assert refused(dispute_resolved_for_seller, appeal(evidence_ids=["S-new"])) == (
        "APPEAL_REQUIRES_NEW_EVIDENCE")


def test_an_appeal_on_the_last_day_of_the_window_is_too_late(dispute_resolved_for_seller):
    given(dispute_resolved_for_seller, add_evidence("E-new", at=day(6)))
    assert refused(dispute_resolved_for_seller, appeal(at=day(20))) == "APPEAL_WINDOW_CLOSED"


def test_an_appeal_after_closing_is_appeal_window_closed(dispute_resolved_for_seller):
    given(dispute_resolved_for_seller, add_evidence("E-new", at=day(6)), expire(day(21)))
    assert refused(dispute_resolved_for_seller, appeal(at=day(21))) == "APPEAL_WINDOW_CLOSED"


def test_a_second_appeal_is_max_appeals_reached(dispute_appealed):
    given(dispute_appealed, decide_appeal(outcome="UPHELD", extra_refund=None))
    assert refused(dispute_appealed, appeal("AP-2", ["E-new"], at=day(9))) == (
        "MAX_APPEALS_REACHED")


def test_appealing_during_negotiation_is_an_invalid_transition(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, appeal(at=day(1))) == "INVALID_TRANSITION"


def test_an_operator_may_not_appeal(dispute_resolved_for_seller):
    assert refused(dispute_resolved_for_seller, appeal(by=OPERATOR)) == "FORBIDDEN"


def test_deciding_an_appeal_closes_the_dispute(dispute_appealed):
    assert when(dispute_appealed, decide_appeal()) == ["AppealDecided", "Closed"]
    assert dispute_appealed.status == "CLOSED"
    assert dispute_appealed.closed_reason == "APPEAL_DECIDED"
    assert dispute_appealed.appeals[-1].extra_refund == Decimal("50.00")


def test_an_upheld_appeal_awards_nothing_extra(dispute_appealed):
    assert refused(dispute_appealed, decide_appeal(outcome="UPHELD", extra_refund="10")) == (
        "VALIDATION_FAILED")


def test_an_extra_refund_above_the_refundable_amount_is_refused(dispute_appealed):
    assert refused(dispute_appealed, decide_appeal(extra_refund="100.01")) == (
        "REFUND_EXCEEDS_REFUNDABLE_AMOUNT")


def test_an_extra_refund_of_zero_fails_validation(dispute_appealed):
    assert refused(dispute_appealed, decide_appeal(extra_refund="0")) == "VALIDATION_FAILED"


def test_deciding_another_appeal_fails_validation(dispute_appealed):
    assert refused(dispute_appealed, decide_appeal("AP-9")) == "VALIDATION_FAILED"


def test_only_an_operator_decides_an_appeal(dispute_appealed):
    assert refused(dispute_appealed, decide_appeal(by=BUYER)) == "FORBIDDEN"


def test_deciding_an_appeal_that_was_never_made_is_an_invalid_transition(
        dispute_resolved_for_seller):
    assert refused(dispute_resolved_for_seller, decide_appeal()) == "INVALID_TRANSITION"


def test_the_operator_may_close_a_resolved_dispute(dispute_resolved_for_buyer):
    assert when(dispute_resolved_for_buyer, close()) == ["Closed"]
    assert dispute_resolved_for_buyer.closed_reason == "CLOSED_BY_OPERATOR"


def test_a_party_may_not_close(dispute_resolved_for_buyer):
    assert refused(dispute_resolved_for_buyer, close(by=BUYER)) == "FORBIDDEN"


def test_closing_an_unresolved_dispute_is_an_invalid_transition(dispute_under_review):
    assert refused(dispute_under_review, close()) == "INVALID_TRANSITION"
