"""An order refunded outside any dispute while a dispute is open lowers what it may return."""

from decimal import Decimal

import pytest

from services.dispute.domain import DomainError
from tests.unit.domain.support import (
    BUYER, accept, day, given, names, offer, open_dispute, refund_issued, refunded_outside, withdraw,
)


def test_an_outside_refund_lowers_the_refundable_amount_of_an_open_dispute():
    dispute = given(open_dispute())
    refunded_outside("30.00")(dispute)
    assert names(dispute.collect_events()) == ["RefundedOutsideDispute"]
    assert (dispute.refunded_total, dispute.refundable_amount) == (Decimal("30.00"), Decimal("70.00"))


def test_the_same_order_refund_is_counted_once():
    dispute = given(open_dispute(), refunded_outside("30.00"))
    refunded_outside("30.00")(dispute)
    assert dispute.collect_events() == [] and dispute.refundable_amount == Decimal("70.00")


def test_a_second_outside_refund_counts_the_order_total_refunded_so_far():
    dispute = given(open_dispute(), refunded_outside("30.00"))
    refunded_outside("50.00", event_id="OR-2")(dispute)
    assert dispute.refundable_amount == Decimal("50.00")


def test_money_already_refunded_in_the_dispute_is_not_counted_twice():
    dispute = given(open_dispute(), offer("A", "60.00"), accept("A"), refund_issued("R-1", "60.00"))
    refunded_outside("60.00", at=day(7))(dispute)
    assert (dispute.refunded_total, dispute.refundable_amount) == (Decimal("100.00"), Decimal("0.00"))


def test_offers_above_what_is_left_are_refused_after_an_outside_refund():
    dispute = given(open_dispute(), refunded_outside("80.00"))
    with pytest.raises(DomainError) as caught:
        offer("A", "30.00", at=day(2))(dispute)
    assert caught.value.code == "REFUND_EXCEEDS_REFUNDABLE_AMOUNT"


def test_a_withdrawn_dispute_is_left_as_it_ended():
    dispute = given(open_dispute(), withdraw(at=day(0.5)))
    refunded_outside("30.00")(dispute)
    assert dispute.collect_events() == []


def test_only_the_service_may_report_an_outside_refund():
    dispute = given(open_dispute())
    with pytest.raises(DomainError) as caught:
        refunded_outside("30.00", by=BUYER)(dispute)
    assert caught.value.code == "FORBIDDEN"
