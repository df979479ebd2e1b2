"""Which dispute events become refunds, and when a refund may not be paid (pure policy)."""

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from services.refund.policy import (Committed, OrderTerms, OutsideRefund, PaidOrder,
                                    PoisonPayload, RefundInstruction, Refusal,
                                    idempotency_key_for, order_terms_from, outside_refund_from,
                                    refund_for, refusal_for)

DISPUTE = "d-1"
OPENED = {"order_id": "O-1", "item_id": "I-1", "buyer_id": "B-1", "seller_id": "S-1",
          "paid_amount": "100.00", "currency": "USD"}
TERMS = OrderTerms(DISPUTE, "O-1", Decimal("100.00"), "USD", item_id="I-1", buyer_id="B-1",
                   seller_id="S-1")
ORDER = PaidOrder("O-1", "B-1", "S-1", "USD", (("I-1", Decimal("100.00")),), Decimal("100.00"))


def resolved(amount: str, currency: str = "USD") -> dict:
    return {"refund_amount": amount, "currency": currency, "outcome": "AGREED",
            "resolved_by": "AGREEMENT"}


def instruction(amount: str, currency: str = "USD") -> RefundInstruction:
    return refund_for("Resolved", "e-1", DISPUTE, resolved(amount, currency))


def test_a_resolution_with_money_becomes_a_refund_instruction():
    assert instruction("30.00") == RefundInstruction(
        dispute_id=DISPUTE, idempotency_key="refund:d-1:e-1", amount=Decimal("30.00"),
        currency="USD", cause_event_id="e-1")


def test_a_resolution_without_money_becomes_nothing():
    assert refund_for("Resolved", "e-1", DISPUTE, resolved("0")) is None


def test_an_appeal_award_becomes_a_refund_instruction_of_the_additional_amount():
    award = refund_for("AppealDecided", "e-9", DISPUTE, {"refund_amount": "15.50", "currency": "USD"})
    assert (award.amount, award.idempotency_key) == (Decimal("15.50"), "refund:d-1:e-9")


def test_an_appeal_without_an_award_becomes_nothing():
    assert refund_for("AppealDecided", "e-9", DISPUTE, {"refund_amount": "0", "currency": "USD"}) is None


def test_other_dispute_events_become_nothing():
    assert refund_for("OfferMade", "e-2", DISPUTE, {"amount": "30.00", "currency": "USD"}) is None


def test_the_idempotency_key_names_the_dispute_and_the_resolution():
    assert idempotency_key_for("d-7", "e-3") == "refund:d-7:e-3"


def test_a_resolution_with_an_unreadable_amount_is_poison():
    with pytest.raises(PoisonPayload):
        refund_for("Resolved", "e-1", DISPUTE, resolved("thirty"))


def test_a_resolution_with_money_but_no_currency_is_poison():
    with pytest.raises(PoisonPayload):
        refund_for("Resolved", "e-1", DISPUTE, {"refund_amount": "30.00"})


def test_a_dispute_opening_teaches_the_order_terms():
    assert order_terms_from("DisputeOpened", DISPUTE, OPENED) == TERMS


def test_other_events_teach_no_order_terms():
    assert order_terms_from("Resolved", DISPUTE, resolved("30.00")) is None


def test_a_dispute_opening_without_a_paid_amount_is_poison():
    without = {k: v for k, v in OPENED.items() if k != "paid_amount"}
    with pytest.raises(PoisonPayload):
        order_terms_from("DisputeOpened", DISPUTE, without)


@pytest.mark.parametrize("field", ["item_id", "buyer_id", "seller_id"])
def test_a_dispute_opening_without_its_item_or_parties_is_poison(field):
    """Without them the terms could not be checked against the order."""
    with pytest.raises(PoisonPayload):
        order_terms_from("DisputeOpened", DISPUTE, {k: v for k, v in OPENED.items() if k != field})


def test_a_dispute_opening_with_an_unreadable_paid_amount_is_poison():
    with pytest.raises(PoisonPayload):
        order_terms_from("DisputeOpened", DISPUTE, {**OPENED, "paid_amount": "lots"})


def test_a_refund_within_the_paid_amount_may_be_paid():
    assert refusal_for(instruction("30.00"), TERMS, ORDER, Committed(Decimal("70.00"))) is None


def test_a_refund_above_what_remains_of_the_paid_amount_is_refused_for_good():
    assert refusal_for(instruction("30.01"), TERMS, ORDER, Committed(Decimal("70.00"))) == Refusal(
        "REFUND_EXCEEDS_PAID_AMOUNT", retryable=False)


def test_a_refund_in_another_currency_than_the_order_is_refused_for_good():
    assert refusal_for(instruction("1.00", "EUR"), TERMS, ORDER, Committed()) == Refusal(
        "CURRENCY_MISMATCH", retryable=False)


def test_a_refund_for_an_unknown_order_is_refused_until_an_operator_retries():
    assert refusal_for(instruction("1.00"), None, ORDER, Committed()) == Refusal(
        "ORDER_TERMS_UNKNOWN", retryable=True)


def test_a_refund_whose_order_was_never_learned_is_refused_until_an_operator_retries():
    assert refusal_for(instruction("1.00"), TERMS, None, Committed()) == Refusal(
        "ORDER_UNKNOWN", retryable=True)


def test_the_refund_policy_imports_no_io():
    source = Path(__file__).resolve().parents[2] / "services" / "refund" / "policy.py"
    imported = {node.module.split(".")[0] for node in ast.walk(ast.parse(source.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "dataclasses", "decimal", "typing"}


def test_a_dispute_opening_teaches_what_was_refunded_outside_disputes_before_it():
    terms = order_terms_from("DisputeOpened", DISPUTE, {**OPENED, "refunded_before": "40.00"})
    assert (terms.refunded_before, terms.refundable) == (Decimal("40.00"), Decimal("60.00"))


def test_a_dispute_opening_of_an_older_producer_has_nothing_refunded_before():
    assert order_terms_from("DisputeOpened", DISPUTE, OPENED).refunded_before == Decimal(0)


def test_a_refund_outside_the_dispute_is_read_as_an_absolute_total():
    assert outside_refund_from("RefundedOutsideDispute", DISPUTE, {
        "order_event_id": "oe-1", "refunded_before": "25.00"}) == OutsideRefund(DISPUTE, Decimal("25.00"))
    assert outside_refund_from("Resolved", DISPUTE, resolved("1.00")) is None


def test_a_refund_outside_the_dispute_without_a_total_is_poison():
    with pytest.raises(PoisonPayload):
        outside_refund_from("RefundedOutsideDispute", DISPUTE, {"order_event_id": "oe-1"})


def test_the_ceiling_is_the_paid_amount_less_what_was_refunded_outside_disputes():
    terms = OrderTerms(DISPUTE, "O-1", Decimal("100.00"), "USD", refunded_before=Decimal("40.00"),
                       item_id="I-1", buyer_id="B-1", seller_id="S-1")
    assert refusal_for(instruction("30.00"), terms, ORDER, Committed(Decimal("30.00"))) is None
    assert refusal_for(instruction("30.01"), terms, ORDER, Committed(Decimal("30.00"))) == Refusal(
        "REFUND_EXCEEDS_PAID_AMOUNT", retryable=False)
