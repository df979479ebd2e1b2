"""Which dispute events become refunds, and when a refund may not be paid (pure policy)."""

import ast
from decimal import Decimal
from pathlib import Path

from contracts.disputes import (AppealDecided, DisputeOpened, OfferMade, RefundedOutsideDispute,
                                Resolved)
from services.refund.policy import (Committed, OrderTerms, OutsideRefund, PaidOrder, RefundFacts,
                                    RefundInstruction, Refusal, idempotency_key_for,
                                    refund_facts_from, refund_for, refusal_for)
from tests.support.envelopes import appeal_decided_payload, opened_payload, resolved_payload

DISPUTE = "d-1"
TERMS = OrderTerms(DISPUTE, "O-1", Decimal("100.00"), "USD", item_id="I-1", buyer_id="B-1",
                   seller_id="S-1")
ORDER = PaidOrder("O-1", "B-1", "S-1", "USD", (("I-1", Decimal("100.00")),), Decimal("100.00"))
OFFER = {"offer_id": "F-1", "offer_type": "PARTIAL_REFUND", "amount": "30.00", "currency": "USD",
         "round_number": 1, "made_by": "seller", "respond_by": "2026-03-14T12:00:00Z", "note": ""}


def resolved(amount: str, currency: str = "USD") -> Resolved:
    return Resolved.model_validate(resolved_payload(amount, currency))


def appeal_decided(award: str) -> AppealDecided:
    return AppealDecided.model_validate(appeal_decided_payload(award))


def opened(**changes) -> DisputeOpened:
    return DisputeOpened.model_validate(opened_payload(**changes))


def instruction(amount: str, currency: str = "USD") -> RefundInstruction:
    return refund_for("e-1", DISPUTE, resolved(amount, currency))


def test_a_resolution_with_money_becomes_a_refund_instruction():
    assert instruction("30.00") == RefundInstruction(
        dispute_id=DISPUTE, idempotency_key="refund:d-1:e-1", amount=Decimal("30.00"),
        currency="USD", cause_event_id="e-1")


def test_a_resolution_without_money_becomes_nothing():
    assert refund_for("e-1", DISPUTE, resolved("0")) is None


def test_an_appeal_award_becomes_a_refund_instruction_of_the_additional_amount():
    award = refund_for("e-9", DISPUTE, appeal_decided("15.50"))
    assert (award.amount, award.idempotency_key) == (Decimal("15.50"), "refund:d-1:e-9")


def test_an_appeal_without_an_award_becomes_nothing():
    assert refund_for("e-9", DISPUTE, appeal_decided("0")) is None


def test_a_resolution_read_from_its_contract_asks_for_a_refund():
    assert refund_facts_from(DISPUTE, "e-1", resolved("30.00")) == RefundFacts(
        instruction=instruction("30.00"))


def test_an_appeal_award_read_from_its_contract_asks_for_a_refund():
    facts = refund_facts_from(DISPUTE, "e-9", appeal_decided("15.50"))
    assert facts.instruction == refund_for("e-9", DISPUTE, appeal_decided("15.50"))


def test_other_dispute_events_teach_and_ask_nothing():
    assert refund_facts_from(DISPUTE, "e-2", OfferMade.model_validate(OFFER)) == RefundFacts()
    assert not RefundFacts()


def test_the_idempotency_key_names_the_dispute_and_the_resolution():
    assert idempotency_key_for("d-7", "e-3") == "refund:d-7:e-3"


def test_a_dispute_opening_teaches_the_order_terms():
    assert refund_facts_from(DISPUTE, "e-0", opened()) == RefundFacts(terms=TERMS)


def test_a_resolution_teaches_no_order_terms():
    assert refund_facts_from(DISPUTE, "e-1", resolved("30.00")).terms is None


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
    assert imported <= {"__future__", "dataclasses", "decimal", "typing", "contracts"}


def test_a_dispute_opening_teaches_what_was_refunded_outside_disputes_before_it():
    terms = refund_facts_from(DISPUTE, "e-0", opened(refunded_before="40.00")).terms
    assert (terms.refunded_before, terms.refundable) == (Decimal("40.00"), Decimal("60.00"))


def test_a_dispute_opening_of_an_older_producer_has_nothing_refunded_before():
    without = {k: v for k, v in opened_payload().items() if k != "refunded_before"}
    opening = DisputeOpened.model_validate(without)
    assert refund_facts_from(DISPUTE, "e-0", opening).terms.refunded_before == Decimal(0)


def test_a_refund_outside_the_dispute_is_read_as_an_absolute_total():
    outside = RefundedOutsideDispute(order_event_id="oe-1", refunded_before=Decimal("25.00"))
    assert refund_facts_from(DISPUTE, "e-5", outside) == RefundFacts(
        outside_refund=OutsideRefund(DISPUTE, Decimal("25.00")))
    assert refund_facts_from(DISPUTE, "e-1", resolved("1.00")).outside_refund is None


def test_the_ceiling_is_the_paid_amount_less_what_was_refunded_outside_disputes():
    terms = OrderTerms(DISPUTE, "O-1", Decimal("100.00"), "USD", refunded_before=Decimal("40.00"),
                       item_id="I-1", buyer_id="B-1", seller_id="S-1")
    assert refusal_for(instruction("30.00"), terms, ORDER, Committed(Decimal("30.00"))) is None
    assert refusal_for(instruction("30.01"), terms, ORDER, Committed(Decimal("30.00"))) == Refusal(
        "REFUND_EXCEEDS_PAID_AMOUNT", retryable=False)
