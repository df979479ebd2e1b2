"""Whether the refund service trusts a resolution, and how much it may pay, judged on the order
as it learned it from orders.events (pure policy)."""

from dataclasses import replace
from decimal import Decimal

import pytest

from contracts.disputes import Resolved
from services.refund.policy import (Committed, OrderTerms, PaidOrder, Refusal, distrust,
                                    order_changes, refund_for, refundable_now, refusal_for)
from tests.support.envelopes import resolved_payload

DISPUTE = "d-1"
ORDER = PaidOrder("O-1", "B-1", "S-1", "USD", (("I-1", Decimal("60.00")), ("I-2", Decimal("40.00"))),
                  Decimal("100.00"))
TERMS = OrderTerms(DISPUTE, "O-1", Decimal("60.00"), "USD", item_id="I-1", buyer_id="B-1",
                   seller_id="S-1")


def resolution(amount: str, currency: str = "USD"):
    return refund_for("e-1", DISPUTE, Resolved.model_validate(resolved_payload(amount, currency)))


def test_a_resolution_of_a_known_dispute_agreeing_with_its_order_is_trusted():
    assert distrust(resolution("60.00"), TERMS, ORDER) is None


def test_a_resolution_of_a_dispute_never_opened_is_not_trusted():
    assert distrust(resolution("1.00"), None, ORDER) == "DISPUTE_UNKNOWN"


def test_a_resolution_of_an_order_not_learned_yet_may_wait_for_it():
    assert distrust(resolution("1.00"), TERMS, None) == "ORDER_UNKNOWN"


@pytest.mark.parametrize("claim, reason", [
    ({"currency": "EUR"}, "CURRENCY_MISMATCH"),
    ({"order_id": "O-2"}, "ORDER_ID_MISMATCH"),
    ({"item_id": "I-9"}, "ITEM_NOT_IN_ORDER"),
    ({"buyer_id": "B-forger"}, "BUYER_MISMATCH"),
    ({"seller_id": "S-other"}, "SELLER_MISMATCH"),
    ({"paid_amount": Decimal("99999.00")}, "PAID_AMOUNT_MISMATCH"),
])
def test_a_dispute_whose_terms_disagree_with_the_order_is_not_trusted(claim, reason):
    assert distrust(resolution("1.00"), replace(TERMS, **claim), ORDER) == reason


def test_a_resolution_in_another_currency_than_the_order_is_not_trusted():
    assert distrust(resolution("1.00", "EUR"), TERMS, ORDER) == "CURRENCY_MISMATCH"


def test_a_resolution_above_the_items_price_is_not_trusted():
    assert distrust(resolution("60.01"), TERMS, ORDER) == "REFUND_EXCEEDS_PAID_AMOUNT"


def test_terms_stored_by_an_older_version_are_bounded_by_the_orders_total():
    legacy = OrderTerms(DISPUTE, "O-1", Decimal("60.00"), "USD")
    assert distrust(resolution("60.00"), legacy, ORDER) is None
    assert distrust(resolution("1.00"), replace(legacy, paid_amount=Decimal("100.01")),
                    ORDER) == "PAID_AMOUNT_MISMATCH"


def test_what_may_be_refunded_is_bounded_by_what_the_whole_order_has_left():
    refunded = replace(ORDER, refunded_outside=Decimal("30.00"))
    assert refundable_now(TERMS, refunded, Committed(dispute=Decimal(0), order=Decimal("20.00"))) \
        == Decimal("50.00")


def test_what_may_be_refunded_is_bounded_by_the_items_price_less_its_disputes_refunds():
    assert refundable_now(TERMS, ORDER, Committed(dispute=Decimal("45.00"), order=Decimal("45.00"))) \
        == Decimal("15.00")


def test_a_refund_the_order_can_no_longer_cover_is_refused_for_good():
    """The other item's dispute was refunded 40.00, 30.00 went back outside disputes: 30.00 is
    left of the order, though 60.00 of this item's price is not yet refunded."""
    order = replace(ORDER, refunded_outside=Decimal("30.00"))
    committed = Committed(dispute=Decimal(0), order=Decimal("40.00"))
    assert refusal_for(resolution("30.00"), TERMS, order, committed) is None
    assert refusal_for(resolution("30.01"), TERMS, order, committed) == Refusal(
        "REFUND_EXCEEDS_PAID_AMOUNT", retryable=False)


def test_terms_that_disagree_are_refused_for_good_at_the_moment_of_paying_too():
    assert refusal_for(resolution("1.00"), replace(TERMS, buyer_id="B-9"), ORDER, Committed()) \
        == Refusal("BUYER_MISMATCH", retryable=False)


def test_an_order_placed_again_with_the_same_facts_changes_nothing():
    assert order_changes(ORDER, replace(ORDER, items=tuple(reversed(ORDER.items)))) == []


def test_an_order_placed_again_with_another_buyer_or_amounts_is_a_contradiction():
    forged = replace(ORDER, buyer_id="B-forger", paid_amount=Decimal("99999.00"))
    assert order_changes(ORDER, forged) == ["buyer_id", "paid_amount"]
    assert order_changes(ORDER, replace(ORDER, items=(("I-1", Decimal("100.00")),))) == ["items"]
