"""Refunds the order service made outside any dispute (OrderRefunded) lower what a dispute may
return: at most the item's price, and at most what is left of the whole order."""

from dataclasses import replace
from decimal import Decimal

import pytest

from services.dispute.domain import DomainError
from tests.unit.domain.support import ORDER, open_dispute


def order_with(total: str, refunded: str, item: str = "100.00"):
    return replace(ORDER, items={"I-1": Decimal(item), "I-2": Decimal(total) - Decimal(item)},
                   total_amount=Decimal(total), refunded_outside_disputes=Decimal(refunded))


def test_an_order_without_refunds_leaves_the_whole_item_refundable():
    assert open_dispute(order=order_with("100.00", "0")).refundable_amount == Decimal("100.00")


def test_a_refund_the_other_items_can_absorb_leaves_the_item_whole():
    assert open_dispute(order=order_with("150.00", "50.00")).refundable_amount == Decimal("100.00")


def test_a_refund_beyond_the_other_items_lowers_what_the_dispute_may_return():
    dispute = open_dispute(order=order_with("150.00", "80.00"))
    assert (dispute.paid_amount, dispute.refundable_amount) == (Decimal("100.00"), Decimal("70.00"))


def test_a_full_refund_request_asks_only_for_what_is_still_refundable():
    assert open_dispute(order=order_with("100.00", "30.00")).request_amount == Decimal("70.00")


def test_a_partial_request_above_what_is_still_refundable_is_refused():
    with pytest.raises(DomainError) as caught:
        open_dispute(order=order_with("100.00", "30.00"), request="PARTIAL_REFUND", amount="80.00")
    assert caught.value.code == "REFUND_EXCEEDS_REFUNDABLE_AMOUNT"
