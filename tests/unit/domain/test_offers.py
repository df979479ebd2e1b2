from decimal import Decimal

from tests.unit.domain.support import (
    BUYER, OPERATOR, OTHER_SELLER, SELLER, accept, day, given, offer, open_dispute, refused,
    reject, terms, when,
)

# Making offers ------------------------------------------------------------------------------


def test_the_sellers_first_offer_records_seller_responded_and_offer_made(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, offer("A")) == ["SellerResponded", "OfferMade"]


def test_an_offer_hands_the_move_to_the_buyer_with_a_response_deadline(dispute_awaiting_seller):
    when(dispute_awaiting_seller, offer("A", at=day(1)))
    assert dispute_awaiting_seller.awaiting == "buyer"
    assert dispute_awaiting_seller.deadlines == {"BUYER_RESPONSE": day(6),
                                                 "NEGOTIATION_MAX": day(15)}


def test_an_offer_is_round_one_and_current(dispute_awaiting_seller):
    when(dispute_awaiting_seller, offer("A"))
    assert dispute_awaiting_seller.current_offer.round == 1
    assert dispute_awaiting_seller.current_offer_id == "A"


def test_a_full_refund_offer_stands_for_the_refundable_amount(dispute_awaiting_seller):
    when(dispute_awaiting_seller, offer("A", None, kind="FULL_REFUND"))
    assert dispute_awaiting_seller.current_offer.amount == Decimal("100.00")


def test_a_replacement_offer_carries_no_amount(dispute_awaiting_seller):
    when(dispute_awaiting_seller, offer("A", None, kind="REPLACEMENT"))
    assert dispute_awaiting_seller.current_offer.amount is None


def test_a_later_seller_offer_does_not_repeat_seller_responded(dispute_with_buyer_counter):
    assert when(dispute_with_buyer_counter, offer("C", "40.00", at=day(3))) == [
        "OfferSuperseded", "OfferMade"]


def test_a_new_offer_supersedes_the_current_one(dispute_with_buyer_counter):
    when(dispute_with_buyer_counter, offer("C", "40.00", at=day(3)))
    assert dispute_with_buyer_counter.offers["B"].status == "SUPERSEDED"
    assert dispute_with_buyer_counter.current_offer_id == "C"


def test_the_buyer_may_counter_by_making_an_offer_on_their_turn(dispute_awaiting_buyer):
    assert when(dispute_awaiting_buyer, offer("B", "60.00", by=BUYER, at=day(2))) == [
        "OfferSuperseded", "OfferMade"]
    assert dispute_awaiting_buyer.awaiting == "seller"


def test_an_offer_out_of_turn_is_not_your_turn(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, offer("C", by=SELLER, at=day(2))) == "NOT_YOUR_TURN"


def test_the_buyer_may_not_offer_while_the_seller_is_to_respond(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("B", by=BUYER)) == "NOT_YOUR_TURN"


def test_an_operator_may_not_offer(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", by=OPERATOR)) == "FORBIDDEN"


def test_another_seller_may_not_offer(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", by=OTHER_SELLER)) == "FORBIDDEN"


def test_an_offer_of_zero_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", "0.00")) == "VALIDATION_FAILED"


def test_a_negative_offer_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", "-5")) == "VALIDATION_FAILED"


def test_an_offer_above_the_refundable_amount_is_refused(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", "100.01")) == (
        "REFUND_EXCEEDS_REFUNDABLE_AMOUNT")


def test_an_offer_in_another_currency_is_refused(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", currency="EUR")) == "CURRENCY_MISMATCH"


def test_an_offer_of_an_unknown_type_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", kind="STORE_CREDIT")) == (
        "VALIDATION_FAILED")


def test_a_replacement_offer_with_an_amount_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", "10", kind="REPLACEMENT")) == (
        "VALIDATION_FAILED")


def test_a_full_refund_offer_for_less_than_refundable_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", "50", kind="FULL_REFUND")) == (
        "VALIDATION_FAILED")


def test_a_reused_offer_id_fails_validation(dispute_with_buyer_counter):
    assert refused(dispute_with_buyer_counter, offer("A", at=day(3))) == "VALIDATION_FAILED"


def test_an_offer_after_the_seller_deadline_is_not_open_for_negotiation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, offer("A", at=day(5))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


def test_an_offer_under_review_is_not_open_for_negotiation(dispute_under_review):
    assert refused(dispute_under_review, offer("C", at=day(5))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


def test_a_fourth_offer_is_max_offer_rounds_reached():
    dispute = given(open_dispute(), offer("A", "10"), reject("A", counter=terms("B", "90")),
                    offer("C", "20", at=day(3)))
    assert refused(dispute, offer("D", "30", by=BUYER, at=day(4))) == "MAX_OFFER_ROUNDS_REACHED"


# Accepting ------------------------------------------------------------------------------------


def test_accepting_a_partial_refund_resolves_as_agreed(dispute_awaiting_buyer):
    assert when(dispute_awaiting_buyer, accept("A")) == ["OfferAccepted", "Resolved"]
    assert dispute_awaiting_buyer.resolution.outcome == "AGREED"
    assert dispute_awaiting_buyer.resolution.resolved_by == "AGREEMENT"
    assert dispute_awaiting_buyer.resolution.refund_amount == Decimal("30.00")


def test_accepting_a_return_offer_requests_the_return():
    dispute = given(open_dispute(), offer("A", "100.00", kind="RETURN_AND_REFUND"))
    assert when(dispute, accept("A")) == ["OfferAccepted", "ReturnRequested"]
    assert dispute.status == "AWAITING_RETURN_SHIPMENT"
    assert dispute.deadlines == {"RETURN_SHIPMENT": day(12)}


def test_accepting_a_replacement_offer_awaits_the_sellers_shipment():
    dispute = given(open_dispute(), offer("A", None, kind="REPLACEMENT"))
    assert when(dispute, accept("A")) == ["OfferAccepted"]
    assert (dispute.status, dispute.awaiting) == ("AWAITING_REPLACEMENT", "seller")


def test_the_seller_may_accept_the_buyers_counter(dispute_with_buyer_counter):
    assert when(dispute_with_buyer_counter, accept("B", by=SELLER, at=day(3))) == [
        "OfferAccepted", "Resolved"]
    assert dispute_with_buyer_counter.resolution.refund_amount == Decimal("60.00")


def test_accepting_a_superseded_offer_is_offer_not_current(dispute_with_buyer_counter):
    assert refused(dispute_with_buyer_counter, accept("A", by=SELLER, at=day(3))) == (
        "OFFER_NOT_CURRENT")


def test_accepting_an_unknown_offer_is_offer_not_current(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, accept("Z")) == "OFFER_NOT_CURRENT"


def test_accepting_your_own_offer_is_not_your_turn(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, accept("A", by=SELLER)) == "NOT_YOUR_TURN"


def test_an_operator_may_not_accept_an_offer(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, accept("A", by=OPERATOR)) == "FORBIDDEN"


def test_accepting_after_the_buyer_deadline_is_not_open_for_negotiation(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, accept("A", at=day(6))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


def test_a_still_open_offer_may_be_accepted_under_review(dispute_under_review):
    assert when(dispute_under_review, accept("A", at=day(5))) == ["OfferAccepted", "Resolved"]
    assert dispute_under_review.resolution.resolved_by == "AGREEMENT"


def test_accepting_after_resolution_is_not_open_for_negotiation(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, accept("A", at=day(3))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


# Rejecting and countering ------------------------------------------------------------------


def test_rejecting_hands_the_move_back_to_the_seller(dispute_awaiting_buyer):
    assert when(dispute_awaiting_buyer, reject("A", at=day(2))) == ["OfferRejected"]
    assert dispute_awaiting_buyer.awaiting == "seller"
    assert dispute_awaiting_buyer.deadlines == {"SELLER_RESPONSE": day(7),
                                                "NEGOTIATION_MAX": day(15)}


def test_rejecting_with_a_counter_records_the_counter_offer(dispute_awaiting_buyer):
    assert when(dispute_awaiting_buyer, reject("A", counter=terms("B"))) == [
        "OfferRejected", "OfferMade"]
    assert dispute_awaiting_buyer.current_offer.made_by == "buyer"
    assert dispute_awaiting_buyer.current_offer.round == 2


def test_the_seller_may_reject_the_buyers_counter(dispute_with_buyer_counter):
    assert when(dispute_with_buyer_counter, reject("B", by=SELLER, at=day(3))) == [
        "OfferRejected"]
    assert dispute_with_buyer_counter.awaiting == "buyer"


def test_rejecting_a_superseded_offer_is_offer_not_current(dispute_with_buyer_counter):
    assert refused(dispute_with_buyer_counter, reject("A", by=SELLER, at=day(3))) == (
        "OFFER_NOT_CURRENT")


def test_rejecting_your_own_offer_is_not_your_turn(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, reject("A", by=SELLER)) == "NOT_YOUR_TURN"


def test_rejecting_with_an_invalid_counter_records_nothing(dispute_awaiting_buyer):
    assert refused(dispute_awaiting_buyer, reject("A", counter=terms("B", "500"))) == (
        "REFUND_EXCEEDS_REFUNDABLE_AMOUNT")


def test_rejecting_under_review_is_not_open_for_negotiation(dispute_under_review):
    assert refused(dispute_under_review, reject("A", at=day(5))) == (
        "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")


def test_rejecting_the_last_round_escalates_automatically():
    dispute = given(open_dispute(), offer("A", "10"), reject("A", at=day(1.5)),
                    offer("B", "20", at=day(2)), reject("B", at=day(2.5)),
                    offer("C", "30", at=day(3)))
    assert when(dispute, reject("C", at=day(3.5))) == ["OfferRejected", "Escalated"]
    assert dispute.escalation.trigger == "MAX_ROUNDS_REACHED"
    assert dispute.escalation.automatic is True
    assert dispute.status == "UNDER_REVIEW"


def test_countering_in_the_last_round_is_max_offer_rounds_reached():
    dispute = given(open_dispute(), offer("A", "10"), reject("A", counter=terms("B", "90")),
                    offer("C", "20", at=day(3)))
    assert refused(dispute, reject("C", counter=terms("D", "80"), at=day(4))) == (
        "MAX_OFFER_ROUNDS_REACHED")
