from dataclasses import replace
from datetime import timedelta

from tests.unit.domain.support import (
    BUYER, OPERATOR, OTHER_BUYER, POLICY, SELLER, day, escalate, given, open_dispute, refused,
    withdraw, when,
)


def test_a_party_may_escalate_once_the_window_opens(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, escalate(by=BUYER, at=day(3))) == ["Escalated"]
    assert dispute_awaiting_seller.status == "UNDER_REVIEW"
    assert dispute_awaiting_seller.awaiting == "operator"


def test_escalating_records_a_manual_party_request(dispute_awaiting_buyer):
    when(dispute_awaiting_buyer, escalate(at=day(4)))
    assert dispute_awaiting_buyer.escalation.trigger == "PARTY_REQUEST"
    assert dispute_awaiting_buyer.escalation.automatic is False


def test_escalating_stops_the_negotiation_deadlines(dispute_awaiting_buyer):
    when(dispute_awaiting_buyer, escalate(at=day(4)))
    assert dispute_awaiting_buyer.deadlines == {}


def test_escalating_keeps_the_open_offer_acceptable(dispute_awaiting_buyer):
    when(dispute_awaiting_buyer, escalate(at=day(4)))
    assert dispute_awaiting_buyer.current_offer_id == "A"


def test_a_seller_escalating_first_records_seller_responded(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, escalate(by=SELLER, at=day(3))) == [
        "SellerResponded", "Escalated"]


def test_escalating_on_day_one_is_not_yet_allowed(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, escalate(at=day(1))) == "ESCALATION_NOT_YET_ALLOWED"


def test_an_operator_may_not_escalate(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, escalate(by=OPERATOR)) == "FORBIDDEN"


def test_escalating_twice_is_an_invalid_transition(dispute_under_review):
    assert refused(dispute_under_review, escalate(at=day(5))) == "INVALID_TRANSITION"


def test_escalating_a_resolved_dispute_is_already_resolved(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, escalate()) == "DISPUTE_ALREADY_RESOLVED"


def test_escalating_after_a_deadline_passed_is_refused(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, escalate(at=day(5))) == "INVALID_TRANSITION"


def test_a_stalled_replacement_may_be_escalated(dispute_awaiting_replacement):
    assert when(dispute_awaiting_replacement, escalate(at=day(4))) == ["Escalated"]


def test_the_buyer_may_withdraw_before_resolution(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, withdraw()) == ["Withdrawn"]
    assert (dispute_awaiting_seller.status, dispute_awaiting_seller.awaiting) == (
        "WITHDRAWN", "none")
    assert dispute_awaiting_seller.deadlines == {}


def test_withdrawing_withdraws_the_open_offer(dispute_awaiting_buyer):
    assert when(dispute_awaiting_buyer, withdraw(at=day(2))) == ["OfferWithdrawn", "Withdrawn"]
    assert dispute_awaiting_buyer.offers["A"].status == "WITHDRAWN"


def test_the_buyer_may_withdraw_under_review(dispute_under_review):
    assert when(dispute_under_review, withdraw(at=day(5))) == ["OfferWithdrawn", "Withdrawn"]


def test_the_buyer_may_withdraw_while_a_return_is_pending(dispute_awaiting_return_shipment):
    assert when(dispute_awaiting_return_shipment, withdraw(at=day(2))) == ["Withdrawn"]


def test_the_seller_may_not_withdraw(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, withdraw(by=SELLER)) == "FORBIDDEN"


def test_another_buyer_may_not_withdraw(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, withdraw(by=OTHER_BUYER)) == "FORBIDDEN"


def test_a_resolved_dispute_cannot_be_withdrawn(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, withdraw(at=day(3))) == (
        "DISPUTE_ALREADY_RESOLVED")


def test_a_withdrawn_dispute_cannot_be_withdrawn_again(dispute_withdrawn):
    assert refused(dispute_withdrawn, withdraw(at=day(2))) == "INVALID_TRANSITION"


def test_the_escalation_gate_follows_the_policy():
    dispute = given(open_dispute(policy=replace(POLICY, escalation_opens_after=timedelta(days=1))))
    assert when(dispute, escalate(at=day(1))) == ["Escalated"]
