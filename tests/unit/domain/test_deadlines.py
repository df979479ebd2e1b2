from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from services.dispute.domain import DEADLINE_WORKER
from tests.unit.domain.support import (
    POLICY, accept_claim, day, expire, given, offer, open_dispute, reject, request_evidence,
    terms, when,
)


def test_nothing_fires_before_a_deadline(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, expire(day(4.9))) == []


def test_expiring_returns_the_names_fired(dispute_awaiting_seller):
    assert dispute_awaiting_seller.expire_due_deadlines(at=day(5), policy=POLICY) == [
        "SELLER_RESPONSE"]


def test_a_silent_seller_loses_at_the_response_deadline(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, expire(day(5))) == ["DeadlineMissed", "Resolved"]
    resolution = dispute_awaiting_seller.resolution
    assert (resolution.outcome, resolution.resolved_by, resolution.refund_amount) == (
        "BUYER_FAVOUR", "TIMEOUT_SELLER", Decimal("100.00"))


def test_timer_consequences_act_as_the_deadline_worker_at_the_due_time(dispute_awaiting_seller):
    dispute_awaiting_seller.expire_due_deadlines(at=day(6), policy=POLICY)
    assert dispute_awaiting_seller.resolution.resolved_at == day(5)
    missed, resolved = dispute_awaiting_seller.collect_events()
    assert missed.actor == resolved.actor == DEADLINE_WORKER.as_dict()
    assert (missed.at, missed.deadline) == (day(5), "SELLER_RESPONSE")


def test_a_seller_timeout_grants_the_buyers_open_counter(dispute_with_buyer_counter):
    dispute_with_buyer_counter.expire_due_deadlines(at=day(7), policy=POLICY)
    assert dispute_with_buyer_counter.resolution.refund_amount == Decimal("60.00")
    assert dispute_with_buyer_counter.offers["B"].status == "LAPSED"


def test_a_seller_timeout_on_a_replacement_refunds_in_full():
    dispute = given(open_dispute(request="REPLACEMENT"), expire(day(5)))
    assert dispute.resolution.remedy == "FULL_REFUND"
    assert dispute.resolution.refund_amount == Decimal("100.00")


def test_a_silent_buyer_loses_at_the_response_deadline(dispute_awaiting_buyer):
    assert when(dispute_awaiting_buyer, expire(day(6))) == [
        "DeadlineMissed", "OfferExpired", "Resolved"]
    resolution = dispute_awaiting_buyer.resolution
    assert (resolution.outcome, resolution.resolved_by, resolution.refund_amount) == (
        "SELLER_FAVOUR", "TIMEOUT_BUYER", Decimal("0"))


def test_a_silent_buyer_is_escalated_when_the_policy_says_so(dispute_awaiting_buyer):
    escalating = replace(POLICY, buyer_timeout_escalates=True)
    assert when(dispute_awaiting_buyer, expire(day(6), escalating)) == [
        "DeadlineMissed", "OfferExpired", "Escalated"]
    assert dispute_awaiting_buyer.escalation.trigger == "BUYER_RESPONSE_TIMEOUT"


def test_the_negotiation_window_escalates_automatically():
    policy = replace(POLICY, seller_response_window=timedelta(days=30))
    dispute = given(open_dispute(policy=policy))
    assert when(dispute, expire(day(15), policy)) == ["Escalated"]
    assert dispute.escalation is not None
    assert (dispute.escalation.trigger, dispute.escalation.automatic) == (
        "NEGOTIATION_WINDOW_ELAPSED", True)


def test_a_met_deadline_does_nothing_when_its_timer_fires(dispute_awaiting_seller):
    given(dispute_awaiting_seller, offer("A", at=day(1)))
    assert dispute_awaiting_seller.expire_due_deadlines(at=day(5.5), policy=POLICY) == []


def test_deadlines_fire_in_due_order_and_cascade(dispute_awaiting_seller):
    fired = dispute_awaiting_seller.expire_due_deadlines(at=day(30), policy=POLICY)
    assert fired == ["SELLER_RESPONSE", "APPEAL_WINDOW"]
    assert dispute_awaiting_seller.status == "CLOSED"


def test_a_resolved_dispute_closes_when_the_appeal_window_ends(dispute_resolved_by_agreement):
    assert when(dispute_resolved_by_agreement, expire(day(17))) == ["Closed"]
    assert dispute_resolved_by_agreement.closed_reason == "APPEAL_WINDOW_ELAPSED"


def test_a_rejection_restarts_the_seller_deadline(dispute_with_buyer_counter):
    assert dispute_with_buyer_counter.deadlines["SELLER_RESPONSE"] == day(7)
    assert when(dispute_with_buyer_counter, expire(day(6.9))) == []


def test_a_missed_evidence_request_only_records_the_miss(dispute_under_review):
    given(dispute_under_review, request_evidence(at=day(5)))
    assert when(dispute_under_review, expire(day(8))) == ["DeadlineMissed"]
    assert dispute_under_review.status == "UNDER_REVIEW"
    assert dispute_under_review.evidence_request.status == "MISSED"


def test_next_deadline_is_the_earliest_running_one(dispute_awaiting_buyer):
    assert dispute_awaiting_buyer.next_deadline == day(6)


def test_a_final_dispute_has_no_next_deadline(dispute_withdrawn):
    assert dispute_withdrawn.next_deadline is None


def test_an_agreed_replacement_runs_no_deadline():
    dispute = given(open_dispute(request="REPLACEMENT"), accept_claim())
    assert dispute.next_deadline is None


def test_countering_does_not_restart_the_negotiation_window(dispute_awaiting_buyer):
    given(dispute_awaiting_buyer, reject("A", counter=terms("B")))
    assert dispute_awaiting_buyer.deadlines["NEGOTIATION_MAX"] == day(15)
