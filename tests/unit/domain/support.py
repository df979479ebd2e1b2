"""Given/when/then for the Dispute aggregate, with a fixed clock and one order (O-1, 100.00 USD).

Commands are small functions of a dispute, so a test reads
`assert when(dispute, accept("A")) == ["OfferAccepted", "Resolved"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.dispute.domain import (
    Actor, Dispute, DisputeIds, DisputePolicy, DomainError, EvidenceFile, OfferTerms, OrderFacts,
    Role,
)

Command = Callable[[Dispute], object]

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
POLICY = DisputePolicy()
IDS = DisputeIds(b"test-dispute-id-key")
BUYER = Actor(Role.BUYER, "B-1")
SELLER = Actor(Role.SELLER, "S-1")
OPERATOR = Actor(Role.OPERATOR, "OP-1")
SERVICE = Actor(Role.SERVICE, "refund-service")
OTHER_BUYER = Actor(Role.BUYER, "B-9")
OTHER_SELLER = Actor(Role.SELLER, "S-9")
ORDER = OrderFacts(
    order_id="O-1", buyer_id="B-1", seller_id="S-1", currency="USD",
    items={"I-1": Decimal("100.00")}, total_amount=Decimal("100.00"),
    placed_at=T0 - timedelta(days=10), promised_delivery_date=T0 - timedelta(days=2))


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def usd(amount: str | None) -> Decimal | None:
    return None if amount is None else Decimal(amount)


def photo(evidence_id: str = "E-1", content_type: str = "image/jpeg",
          size: int = 2048) -> EvidenceFile:
    return EvidenceFile(evidence_id=evidence_id, sha256="a" * 64, content_type=content_type,
                        size=size, filename=f"{evidence_id}.jpg", description="a photo")


def open_dispute(*, request: str = "FULL_REFUND", amount: str | None = None,
                 reason: str = "NOT_AS_DESCRIBED", at: datetime = T0, actor: Actor = BUYER,
                 evidence: Sequence[EvidenceFile] = (), order: OrderFacts = ORDER,
                 policy: DisputePolicy = POLICY) -> Dispute:
    return Dispute.open(dispute_id=IDS.for_new_dispute(order.order_id, "I-1"), order=order,
                        item_id="I-1", actor=actor, reason=reason, request=request,
                        request_amount=usd(amount), description="not what the listing showed",
                        at=at, policy=policy, evidence=tuple(evidence))


def given(dispute: Dispute, *commands: Command) -> Dispute:
    """Applies commands and forgets their events, so `when` sees only the next ones."""
    for command in commands:
        command(dispute)
    dispute.collect_events()
    return dispute


def when(dispute: Dispute, command: Command) -> list[str]:
    """Runs one command; returns the class names of the events it recorded, in order."""
    dispute.collect_events()
    command(dispute)
    return names(dispute.collect_events())


def refused(dispute: Dispute, command: Command) -> str:
    """Runs a command that must be refused; checks it recorded nothing; returns the code."""
    dispute.collect_events()
    version = dispute.version
    with pytest.raises(DomainError) as caught:
        command(dispute)
    assert dispute.collect_events() == []
    assert dispute.version == version
    return caught.value.code


def names(events: Sequence[object]) -> list[str]:
    return [type(event).__name__ for event in events]


# Commands ----------------------------------------------------------------------------------

def offer(offer_id: str = "A", amount: str | None = "30.00", *, kind: str = "PARTIAL_REFUND",
          by: Actor = SELLER, at: datetime = day(1), currency: str | None = None,
          policy: DisputePolicy = POLICY) -> Command:
    return lambda d: d.make_offer(offer_id=offer_id, offer_type=kind, amount=usd(amount),
                                  currency=currency, actor=by, at=at, policy=policy)


def terms(offer_id: str, amount: str | None = "60.00", kind: str = "PARTIAL_REFUND",
          currency: str | None = None) -> OfferTerms:
    return OfferTerms(offer_id=offer_id, offer_type=kind, amount=usd(amount), currency=currency)


def accept(offer_id: str = "A", *, by: Actor = BUYER, at: datetime = day(2)) -> Command:
    return lambda d: d.accept_offer(offer_id=offer_id, actor=by, at=at, policy=POLICY)


def reject(offer_id: str = "A", *, counter: OfferTerms | None = None, by: Actor = BUYER,
           at: datetime = day(2), policy: DisputePolicy = POLICY) -> Command:
    return lambda d: d.reject_offer(offer_id=offer_id, counter_offer=counter, reason="too low",
                                    actor=by, at=at, policy=policy)


def accept_claim(*, by: Actor = SELLER, at: datetime = day(1)) -> Command:
    return lambda d: d.accept_claim(actor=by, at=at, policy=POLICY)


def reject_claim(*, evidence: Sequence[EvidenceFile] = (photo("S-E1"),),
                 evidence_ids: Sequence[str] = (), counter: OfferTerms | None = None,
                 by: Actor = SELLER, at: datetime = day(1),
                 policy: DisputePolicy = POLICY) -> Command:
    return lambda d: d.reject_claim(evidence=tuple(evidence), evidence_ids=list(evidence_ids),
                                    counter_offer=counter, reason="as described", actor=by,
                                    at=at, policy=policy)


def escalate(*, by: Actor = BUYER, at: datetime = day(4)) -> Command:
    return lambda d: d.escalate(note="we cannot agree", actor=by, at=at)


def withdraw(*, by: Actor = BUYER, at: datetime = day(1)) -> Command:
    return lambda d: d.withdraw(reason="the parcel arrived", actor=by, at=at)


def expire(at: datetime, policy: DisputePolicy = POLICY) -> Command:
    return lambda d: d.expire_due_deadlines(at=at, policy=policy)


def ship_return(*, by: Actor = BUYER, at: datetime = day(2), tracking: str = "1Z999") -> Command:
    return lambda d: d.ship_return(carrier="UPS", tracking_number=tracking, actor=by, at=at,
                                   policy=POLICY)


def acknowledge(condition: str = "ITEM_RECEIVED", *, evidence: Sequence[EvidenceFile] = (),
                by: Actor = SELLER, at: datetime = day(5)) -> Command:
    return lambda d: d.acknowledge_return(condition=condition, evidence=tuple(evidence),
                                          actor=by, at=at, policy=POLICY)


def ship_replacement(*, by: Actor = SELLER, at: datetime = day(2)) -> Command:
    return lambda d: d.ship_replacement(carrier="DHL", tracking_number="JD0001", actor=by, at=at)


def confirm_replacement(*, by: Actor = BUYER, at: datetime = day(4)) -> Command:
    return lambda d: d.confirm_replacement(actor=by, at=at, policy=POLICY)


def request_evidence(request_id: str = "RQ-1", *, from_party: str = "buyer",
                     by: Actor = OPERATOR, at: datetime = day(5)) -> Command:
    return lambda d: d.request_evidence(request_id=request_id, from_party=from_party,
                                        note="photos of the box", actor=by, at=at, policy=POLICY)


def decide(outcome: str = "BUYER_FAVOUR", amount: str | None = "100.00", *,
           return_required: bool = False, currency: str | None = None, by: Actor = OPERATOR,
           at: datetime = day(5)) -> Command:
    return lambda d: d.decide(outcome=outcome, refund_amount=usd(amount), currency=currency,
                              return_required=return_required, note="as the evidence shows",
                              actor=by, at=at, policy=POLICY)


def add_evidence(evidence_id: str = "E-1", *, by: Actor = BUYER, at: datetime = day(1),
                 content_type: str = "image/png", size: int = 1024,
                 sha256: str = "b" * 64, policy: DisputePolicy = POLICY) -> Command:
    return lambda d: d.add_evidence(evidence_id=evidence_id, sha256=sha256,
                                    content_type=content_type, size=size, filename="box.png",
                                    description="the box", actor=by, at=at, policy=policy)


def post_message(message_id: str = "M-1", *, text: str = "Any news?",
                 visibility: str = "PARTIES", by: Actor = BUYER,
                 at: datetime = day(1), policy: DisputePolicy = POLICY) -> Command:
    return lambda d: d.post_message(message_id=message_id, text=text, visibility=visibility,
                                    actor=by, at=at, policy=policy)


def appeal(appeal_id: str = "AP-1", evidence_ids: Sequence[str] = ("E-new",), *,
           by: Actor = BUYER, at: datetime = day(6)) -> Command:
    return lambda d: d.appeal(appeal_id=appeal_id, evidence_ids=list(evidence_ids),
                              reason="the item was broken", actor=by, at=at, policy=POLICY)


def decide_appeal(appeal_id: str = "AP-1", outcome: str = "OVERTURNED",
                  extra_refund: str | None = "50.00", *, by: Actor = OPERATOR,
                  at: datetime = day(8)) -> Command:
    return lambda d: d.decide_appeal(appeal_id=appeal_id, outcome=outcome,
                                     extra_refund=usd(extra_refund), actor=by, at=at)


def close(*, by: Actor = OPERATOR, at: datetime = day(6)) -> Command:
    return lambda d: d.close(actor=by, at=at)


def feedback(rating: int = 4, *, by: Actor = BUYER, at: datetime = day(7)) -> Command:
    return lambda d: d.leave_feedback(rating=rating, comment="quick and fair", actor=by, at=at)


def reply_to_feedback(feedback_of: str = "buyer", text: str = "thank you", *, by: Actor = SELLER,
                      at: datetime = day(8)) -> Command:
    return lambda d: d.reply_to_feedback(feedback_of=feedback_of, text=text, actor=by, at=at)


def refund_issued(refund_id: str = "R-1", amount: str = "100.00", *, currency: str = "USD",
                  by: Actor = SERVICE, at: datetime = day(6)) -> Command:
    return lambda d: d.record_refund_issued(refund_id=refund_id, amount=usd(amount),
                                            currency=currency, actor=by, at=at)


def refunded_outside(refunded: str, *, event_id: str = "OR-1", by: Actor = SERVICE,
                     at: datetime = day(1)) -> Command:
    """The order service refunded `refunded` of the order outside any dispute."""
    order = replace(ORDER, refunded_outside_disputes=usd(refunded))
    return lambda d: d.note_refund_outside_dispute(order=order, order_event_id=event_id,
                                                   actor=by, at=at)


def refund_failed(refund_id: str = "R-1", *, by: Actor = SERVICE,
                  at: datetime = day(6)) -> Command:
    return lambda d: d.record_refund_failed(refund_id=refund_id, reason="card expired",
                                            retryable=True, actor=by, at=at)
