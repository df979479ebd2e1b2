from decimal import Decimal

from tests.unit.domain.support import (
    BUYER, OPERATOR, SELLER, accept_claim, add_evidence, day, given, offer, open_dispute, photo, refused,
    reject_claim, terms, when,
)


def test_accepting_a_full_refund_claim_resolves_for_the_claimed_amount(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, accept_claim()) == [
        "SellerResponded", "ClaimAccepted", "Resolved"]
    resolution = dispute_awaiting_seller.resolution
    assert (resolution.outcome, resolution.resolved_by, resolution.refund_amount) == (
        "AGREED", "SELLER_ACCEPTED_CLAIM", Decimal("100.00"))


def test_accepting_a_partial_refund_claim_refunds_the_requested_amount():
    dispute = given(open_dispute(request="PARTIAL_REFUND", amount="45.00"))
    when(dispute, accept_claim())
    assert dispute.resolution.refund_amount == Decimal("45.00")


def test_accepting_a_return_claim_requests_the_return(dispute_awaiting_seller):
    dispute = given(open_dispute(request="RETURN_AND_REFUND", amount="100.00"))
    assert when(dispute, accept_claim()) == ["SellerResponded", "ClaimAccepted", "ReturnRequested"]
    assert dispute.return_shipment.resolved_by == "SELLER_ACCEPTED_CLAIM"


def test_accepting_a_replacement_claim_awaits_the_replacement():
    dispute = given(open_dispute(request="REPLACEMENT"))
    assert when(dispute, accept_claim()) == ["SellerResponded", "ClaimAccepted"]
    assert dispute.status == "AWAITING_REPLACEMENT"
    assert dispute.deadlines == {}


def test_accepting_the_claim_over_a_buyer_counter_supersedes_it(dispute_with_buyer_counter):
    assert when(dispute_with_buyer_counter, accept_claim(at=day(3))) == [
        "OfferSuperseded", "ClaimAccepted", "Resolved"]


def test_only_the_seller_may_accept_the_claim(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, accept_claim(by=BUYER)) == "FORBIDDEN"


def test_accepting_the_claim_on_the_buyers_turn_is_not_your_turn(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, accept_claim(at=day(2))) == "NOT_YOUR_TURN"


def test_accepting_the_claim_after_the_deadline_is_not_open_for_negotiation(
        dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, accept_claim(at=day(5))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


def test_rejecting_the_claim_with_evidence_hands_the_move_to_the_buyer(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, reject_claim()) == [
        "SellerResponded", "EvidenceAdded", "ClaimRejected"]
    assert dispute_awaiting_seller.awaiting == "buyer"
    assert dispute_awaiting_seller.deadlines["BUYER_RESPONSE"] == day(6)


def test_rejecting_the_claim_with_a_counter_offer_records_the_offer(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, reject_claim(evidence=(), counter=terms("A", "20"))) == [
        "SellerResponded", "ClaimRejected", "OfferMade"]
    assert dispute_awaiting_seller.current_offer_id == "A"


def test_rejecting_the_claim_may_cite_evidence_the_seller_already_added(dispute_awaiting_seller):
    given(dispute_awaiting_seller, add_evidence("S-E0", by=SELLER, at=day(0.5)))
    assert when(dispute_awaiting_seller, reject_claim(evidence=(), evidence_ids=["S-E0"])) == [
        "SellerResponded", "ClaimRejected"]


def test_rejecting_the_claim_citing_the_buyers_evidence_fails_validation(
        dispute_awaiting_seller):
    given(dispute_awaiting_seller, add_evidence("E-1", at=day(0.5)))
    assert refused(dispute_awaiting_seller, reject_claim(evidence=(), evidence_ids=["E-1"])) == (
        "VALIDATION_FAILED")


def test_rejecting_the_claim_with_nothing_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, reject_claim(evidence=())) == "VALIDATION_FAILED"


def test_rejecting_the_claim_with_an_oversized_file_is_evidence_rejected(dispute_awaiting_seller):
    big = photo("S-E1", size=10 * 1024 * 1024 + 1)
    assert refused(dispute_awaiting_seller, reject_claim(evidence=[big])) == "EVIDENCE_REJECTED"


def test_rejecting_the_claim_while_a_buyer_offer_is_open_is_an_invalid_transition(
        dispute_with_buyer_counter):
    assert refused(dispute_with_buyer_counter, reject_claim(at=day(3))) == "INVALID_TRANSITION"


def test_an_operator_may_not_reject_the_claim(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, reject_claim(by=OPERATOR)) == "FORBIDDEN"


def test_rejecting_the_claim_on_the_buyers_turn_is_not_your_turn(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, reject_claim(at=day(2))) == "NOT_YOUR_TURN"


def test_the_claim_cannot_be_accepted_once_resolved(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, accept_claim(at=day(3))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


def test_a_seller_who_already_responded_is_not_marked_responded_again():
    dispute = given(open_dispute(), reject_claim(), offer("B", "60", by=BUYER, at=day(2)))
    assert when(dispute, accept_claim(at=day(3))) == [
        "OfferSuperseded", "ClaimAccepted", "Resolved"]
