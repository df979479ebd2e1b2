"""Pure: which dispute events become refund instructions, and whether a refund may be paid.
No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

PAYING_EVENTS = {"Resolved", "AppealDecided"}
HANDLED_EVENTS = {"DisputeOpened", "RefundedOutsideDispute", *PAYING_EVENTS}


@dataclass(frozen=True)
class OrderTerms:
    """What the buyer paid for the disputed order, less what was refunded outside disputes:
    the ceiling of every refund."""
    dispute_id: str
    order_id: str
    paid_amount: Decimal
    currency: str
    refunded_before: Decimal = Decimal(0)

    @property
    def refundable(self) -> Decimal:
        return self.paid_amount - self.refunded_before


@dataclass(frozen=True)
class OutsideRefund:
    """The order service refunded part of the order outside disputes while one is open:
    `refunded_before` is the new absolute total, not an increment."""
    dispute_id: str
    refunded_before: Decimal


@dataclass(frozen=True)
class RefundInstruction:
    dispute_id: str
    idempotency_key: str
    amount: Decimal
    currency: str
    cause_event_id: str


@dataclass(frozen=True)
class Refusal:
    reason: str
    retryable: bool


class PoisonPayload(ValueError):
    """The event is well formed but its payload cannot be read as a refund fact."""


def idempotency_key_for(dispute_id: str, event_id: str) -> str:
    """One key per resolution (or appeal award): the provider pays it at most once."""
    return f"refund:{dispute_id}:{event_id}"


def order_terms_from(event_type: str, dispute_id: str, payload: dict[str, Any]) -> OrderTerms | None:
    if event_type != "DisputeOpened":
        return None
    try:
        return OrderTerms(dispute_id, str(payload["order_id"]), _amount(payload["paid_amount"]),
                          str(payload["currency"]), _amount(payload.get("refunded_before", "0")))
    except KeyError as missing:
        raise PoisonPayload(f"DisputeOpened without {missing}") from None


def outside_refund_from(event_type: str, dispute_id: str,
                        payload: dict[str, Any]) -> OutsideRefund | None:
    if event_type != "RefundedOutsideDispute":
        return None
    if "refunded_before" not in payload:
        raise PoisonPayload("RefundedOutsideDispute without 'refunded_before'")
    return OutsideRefund(dispute_id, _amount(payload["refunded_before"]))


def refund_for(event_type: str, event_id: str, dispute_id: str,
               payload: dict[str, Any]) -> RefundInstruction | None:
    """A resolution (or appeal award) with money to return; None for everything else."""
    if event_type not in PAYING_EVENTS:
        return None
    amount = _amount(payload.get("refund_amount") or payload.get("extra_refund_amount") or "0")
    if amount <= 0:
        return None
    if not payload.get("currency"):
        raise PoisonPayload(f"{event_type} with a refund but no currency")
    return RefundInstruction(dispute_id=dispute_id, amount=amount, currency=payload["currency"],
                             idempotency_key=idempotency_key_for(dispute_id, event_id),
                             cause_event_id=event_id)


def refusal_for(instruction: RefundInstruction, terms: OrderTerms | None,
                committed: Decimal) -> Refusal | None:
    """Checked at the moment of paying: the refunds of a dispute (`committed`: issued, or held
    by another refund in flight) plus this one never exceed what was paid less what was
    refunded outside disputes."""
    if terms is None:
        return Refusal("ORDER_TERMS_UNKNOWN", retryable=True)
    if instruction.currency != terms.currency:
        return Refusal("CURRENCY_MISMATCH", retryable=False)
    if committed + instruction.amount > terms.refundable:
        return Refusal("REFUND_EXCEEDS_PAID_AMOUNT", retryable=False)
    return None


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise PoisonPayload(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise PoisonPayload(f"not an amount: {value!r}")
    return amount
