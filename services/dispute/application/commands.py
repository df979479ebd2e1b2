"""The commands a dispute takes, by name: one record of its arguments per use case, each
running one method of the aggregate (`MakeOffer` runs `Dispute.make_offer`).

HTTP routes and Kafka consumers build these records; `use_cases.run` runs any of them (one
load, the party check, due deadlines, the command, one save). `by` carries who and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from services.dispute.domain import Actor, Dispute, DisputePolicy, OfferTerms, OrderFacts


@dataclass(frozen=True)
class Acting:
    """Who runs a command, at which moment, under which correlation and causation ids."""

    actor: Actor
    at: datetime
    correlation_id: str
    causation_id: str | None = None


class Command(Protocol):
    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None: ...


# Negotiation
@dataclass(frozen=True)
class MakeOffer:
    offer_id: str
    offer_type: str
    amount: Decimal | None
    currency: str | None
    note: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.make_offer(offer_id=self.offer_id, offer_type=self.offer_type, amount=self.amount,
                           currency=self.currency, note=self.note, actor=by.actor, at=by.at,
                           policy=policy)


@dataclass(frozen=True)
class AcceptOffer:
    offer_id: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.accept_offer(offer_id=self.offer_id, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class RejectOffer:
    offer_id: str
    counter_offer: OfferTerms | None
    reason: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.reject_offer(offer_id=self.offer_id, counter_offer=self.counter_offer,
                             reason=self.reason, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class AcceptClaim:
    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.accept_claim(actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class RejectClaim:
    evidence_ids: list[str]
    counter_offer: OfferTerms | None
    reason: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.reject_claim(evidence_ids=self.evidence_ids, counter_offer=self.counter_offer,
                             reason=self.reason, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class Escalate:
    note: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.escalate(note=self.note, actor=by.actor, at=by.at)


@dataclass(frozen=True)
class Withdraw:
    reason: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.withdraw(reason=self.reason, actor=by.actor, at=by.at)


# Fulfilment
@dataclass(frozen=True)
class ShipReturn:
    carrier: str
    tracking_number: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.ship_return(carrier=self.carrier, tracking_number=self.tracking_number,
                            actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class AcknowledgeReturn:
    condition: str
    evidence_ids: list[str]
    note: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.acknowledge_return(condition=self.condition, evidence_ids=self.evidence_ids,
                                   note=self.note, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class ShipReplacement:
    carrier: str
    tracking_number: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.ship_replacement(carrier=self.carrier, tracking_number=self.tracking_number,
                                 actor=by.actor, at=by.at)


@dataclass(frozen=True)
class ConfirmReplacement:
    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.confirm_replacement(actor=by.actor, at=by.at, policy=policy)


# Review (the platform's part, and the losing party's appeal)
@dataclass(frozen=True)
class RequestEvidence:
    request_id: str
    from_party: str
    note: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.request_evidence(request_id=self.request_id, from_party=self.from_party,
                                 note=self.note, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class Decide:
    outcome: str
    refund_amount: Decimal | None
    currency: str | None
    return_required: bool
    note: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.decide(outcome=self.outcome, refund_amount=self.refund_amount,
                       currency=self.currency, return_required=self.return_required,
                       note=self.note, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class Appeal:
    appeal_id: str
    evidence_ids: list[str]
    reason: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.appeal(appeal_id=self.appeal_id, evidence_ids=self.evidence_ids,
                       reason=self.reason, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class DecideAppeal:
    appeal_id: str
    outcome: str
    extra_refund: Decimal | None
    currency: str | None
    note: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.decide_appeal(appeal_id=self.appeal_id, outcome=self.outcome,
                              extra_refund=self.extra_refund, currency=self.currency,
                              note=self.note, actor=by.actor, at=by.at)


@dataclass(frozen=True)
class Close:
    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.close(actor=by.actor, at=by.at)


# Conversation and evidence
@dataclass(frozen=True)
class PostMessage:
    message_id: str
    text: str
    visibility: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.post_message(message_id=self.message_id, text=self.text,
                             visibility=self.visibility, actor=by.actor, at=by.at, policy=policy)


@dataclass(frozen=True)
class LeaveFeedback:
    rating: int
    comment: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.leave_feedback(rating=self.rating, comment=self.comment, actor=by.actor, at=by.at)


@dataclass(frozen=True)
class ReplyToFeedback:
    feedback_of: str
    text: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.reply_to_feedback(feedback_of=self.feedback_of, text=self.text, actor=by.actor,
                                  at=by.at)


@dataclass(frozen=True)
class AddEvidence:
    evidence_id: str
    sha256: str
    content_type: str
    size: int
    filename: str
    description: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.add_evidence(evidence_id=self.evidence_id, sha256=self.sha256,
                             content_type=self.content_type, size=self.size,
                             filename=self.filename, description=self.description,
                             actor=by.actor, at=by.at, policy=policy)


# Facts other services report (Kafka)
@dataclass(frozen=True)
class NoteRefundOutsideDispute:
    order: OrderFacts
    order_event_id: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.note_refund_outside_dispute(order=self.order, order_event_id=self.order_event_id,
                                            actor=by.actor, at=by.at)


@dataclass(frozen=True)
class RecordRefundIssued:
    refund_id: str
    amount: Decimal
    currency: str

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.record_refund_issued(refund_id=self.refund_id, amount=self.amount,
                                     currency=self.currency, actor=by.actor, at=by.at)


@dataclass(frozen=True)
class RecordRefundFailed:
    refund_id: str
    reason: str
    retryable: bool

    def apply_to(self, dispute: Dispute, by: Acting, policy: DisputePolicy) -> None:
        dispute.record_refund_failed(refund_id=self.refund_id, reason=self.reason,
                                     retryable=self.retryable, actor=by.actor, at=by.at)


@dataclass(frozen=True)
class OpenDispute:
    """Opening is the one command without a dispute to load (use_cases.open_dispute)."""

    order: OrderFacts
    item_id: str
    reason: str
    request: str
    request_amount: Decimal | None
    description: str = field(default="")
