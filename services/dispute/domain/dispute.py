"""The Dispute aggregate: one event stream per dispute.

This module holds the state and the events. The commands live in mixins by topic
(negotiation, fulfilment, review, conversation, refunds, timers): they check the rules and
raise `DomainError`s; the private `@event` methods here only assign state, because their
bodies run again on every replay.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.dispute.domain.conversation import ConversationCommands
from services.dispute.domain.fulfilment import FulfilmentCommands
from services.dispute.domain.negotiation import NegotiationCommands
from services.dispute.domain.opening import check_can_open, claimed_amount, refunded_before
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.refunds import RefundRecords
from services.dispute.domain.review import ReviewCommands
from services.dispute.domain.state import DisputeState, other_party
from services.dispute.domain.steps import DisputeSteps
from services.dispute.domain.timers import DeadlineTimers
from services.dispute.domain.values import (
    Actor, Deadline, EvidenceFile, OfferStatus, ResolvedBy, Role, Status,
)

ActorData = dict[str, Any]


class Dispute(NegotiationCommands, FulfilmentCommands, ReviewCommands, ConversationCommands,
              RefundRecords, DeadlineTimers, DisputeSteps, DisputeState, Aggregate):
    @classmethod
    def open(cls, *, dispute_id: UUID, order: OrderFacts, item_id: str, actor: Actor,
             reason: str, request: str, request_amount: Decimal | None, description: str,
             at: datetime, policy: DisputePolicy,
             evidence: tuple[EvidenceFile, ...] = ()) -> "Dispute":
        """The buyer opens a dispute on one item of their order (optionally with evidence).
        The id comes from outside (`DisputeIds`): one per (order, item), as the store refuses
        a second stream under the same id."""
        check_can_open(order, item_id, actor, reason, at, policy, evidence)
        dispute = cls._create(  # the library's way to create an aggregate under a given id
            cls.Opened, id=dispute_id,
            order_id=order.order_id, item_id=item_id, buyer_id=order.buyer_id,
            seller_id=order.seller_id, reason=reason, request=request,
            request_amount=claimed_amount(order, item_id, request, request_amount),
            description=description, paid_amount=order.item_amount(item_id),
            refunded_before=refunded_before(order, item_id),
            currency=order.currency, actor=actor.as_dict(), at=at,
            deadlines={Deadline.SELLER_RESPONSE.value: at + policy.seller_response_window,
                       Deadline.NEGOTIATION_MAX.value: at + policy.negotiation_max},
            escalation_allowed_from=at + policy.escalation_opens_after,
        )
        dispute._add_evidence_files(evidence, actor, at)
        return dispute

    @event("Opened")
    def __init__(self, order_id: str, item_id: str, buyer_id: str, seller_id: str, reason: str,
                 request: str, request_amount: Decimal | None, description: str,
                 paid_amount: Decimal, refunded_before: Decimal, currency: str,
                 actor: ActorData, at: datetime, deadlines: dict[str, datetime],
                 escalation_allowed_from: datetime) -> None:
        self.order_id, self.item_id = order_id, item_id
        self.buyer_id, self.seller_id = buyer_id, seller_id
        self.reason, self.request, self.request_amount = reason, request, request_amount
        self.description = description
        self.paid_amount, self.currency = paid_amount, currency
        self.refunded_total = self.refunded_before = refunded_before
        self.outside_refunds: list[str] = []
        self.status = Status.AWAITING_SELLER_RESPONSE.value
        self.deadlines = dict(deadlines)
        self.escalation_allowed_from = escalation_allowed_from
        self.opened_at = self.updated_at = at
        self.seller_responded = False
        self.offers: dict[str, dict[str, Any]] = {}
        self.current_offer_id: str | None = None
        self.rounds = 0
        self.agreement: dict[str, Any] | None = None
        self.return_shipment: dict[str, Any] | None = None
        self.replacement: dict[str, Any] | None = None
        self.escalation: dict[str, Any] | None = None
        self.evidence: dict[str, dict[str, Any]] = {}
        self.evidence_request: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.missed_deadlines: list[str] = []
        self.resolution: dict[str, Any] | None = None
        self.appeals: list[dict[str, Any]] = []
        self.closed_reason: str | None = None
        self.withdrawal_reason: str | None = None
        self.feedback: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.failed_refunds: dict[str, dict[str, Any]] = {}

    # Events: bodies only assign ---------------------------------------------------------

    @event("SellerResponded")
    def _seller_responded(self, actor: ActorData, at: datetime) -> None:
        self.seller_responded = True
        self.updated_at = at

    @event("OfferMade")
    def _offer_made(self, offer_id: str, offer_type: str, amount: Decimal | None, currency: str,
                    round_number: int, made_by: str, respond_by: datetime, note: str,
                    actor: ActorData, at: datetime) -> None:
        self.offers[offer_id] = {
            "offer_id": offer_id, "offer_type": offer_type, "amount": amount,
            "currency": currency, "round": round_number, "made_by": made_by, "note": note,
            "status": OfferStatus.OPEN.value, "made_at": at, "respond_by": respond_by}
        self.current_offer_id = offer_id
        self.rounds = round_number
        self._await(other_party(made_by), respond_by)
        self.updated_at = at

    @event("OfferSuperseded")
    def _offer_superseded(self, offer_id: str, actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.SUPERSEDED, at)

    @event("OfferAccepted")
    def _offer_accepted(self, offer_id: str, remedy: str, refund_amount: Decimal,
                        actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.ACCEPTED, at)
        self._agree(remedy, refund_amount, ResolvedBy.AGREEMENT)

    @event("OfferRejected")
    def _offer_rejected(self, offer_id: str, reason: str, respond_by: datetime,
                        actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.REJECTED, at)
        self._await(other_party(actor["role"]), respond_by)

    @event("OfferExpired")
    def _offer_expired(self, offer_id: str, actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.EXPIRED, at)

    @event("OfferWithdrawn")
    def _offer_withdrawn(self, offer_id: str, actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.WITHDRAWN, at)

    @event("ClaimAccepted")
    def _claim_accepted(self, remedy: str, refund_amount: Decimal, actor: ActorData,
                        at: datetime) -> None:
        self._agree(remedy, refund_amount, ResolvedBy.SELLER_ACCEPTED_CLAIM)
        self.updated_at = at

    @event("ClaimRejected")
    def _claim_rejected(self, evidence_ids: list[str], reason: str, respond_by: datetime,
                        actor: ActorData, at: datetime) -> None:
        self._await(Role.BUYER, respond_by)
        self.updated_at = at

    @event("EvidenceAdded")
    def _evidence_added(self, evidence_id: str, sha256: str, content_type: str, size: int,
                        filename: str, description: str, actor: ActorData, at: datetime) -> None:
        self.evidence[evidence_id] = {
            "evidence_id": evidence_id, "sha256": sha256, "content_type": content_type,
            "size": size, "filename": filename, "description": description,
            "added_by": actor["role"], "added_at": at,
            "after_resolution": self.status == Status.RESOLVED}
        request = self.evidence_request
        if request and request["status"] == "OPEN" and request["from_party"] == actor["role"]:
            self.evidence_request = {**request, "status": "ANSWERED"}
            self.deadlines.pop(Deadline.EVIDENCE_REQUEST, None)
        self.updated_at = at

    @event("EvidenceRequested")
    def _evidence_requested(self, request_id: str, from_party: str, note: str, due: datetime,
                            actor: ActorData, at: datetime) -> None:
        self.evidence_request = {"request_id": request_id, "from_party": from_party,
                                 "note": note, "due": due, "status": "OPEN"}
        self.deadlines[Deadline.EVIDENCE_REQUEST.value] = due
        self.updated_at = at

    @event("MessagePosted")
    def _message_posted(self, message_id: str, text: str, visibility: str, actor: ActorData,
                        at: datetime) -> None:
        self.messages.append({"message_id": message_id, "text": text, "visibility": visibility,
                              "posted_by": dict(actor), "posted_at": at})
        self.updated_at = at

    @event("DeadlineMissed")
    def _deadline_missed(self, deadline: str, due: datetime, actor: ActorData,
                         at: datetime) -> None:
        self.deadlines.pop(deadline, None)
        self.missed_deadlines.append(deadline)
        if deadline == Deadline.EVIDENCE_REQUEST and self.evidence_request:
            self.evidence_request = {**self.evidence_request, "status": "MISSED"}
        if deadline == Deadline.RETURN_SHIPMENT and self.return_shipment:
            self.return_shipment = {**self.return_shipment, "status": "MISSED"}
        self.updated_at = at

    @event("Escalated")
    def _escalated(self, trigger: str, automatic: bool, note: str, actor: ActorData,
                   at: datetime) -> None:
        self.status = Status.UNDER_REVIEW.value
        self.escalation = {"trigger": trigger, "automatic": automatic, "note": note,
                           "escalated_by": dict(actor), "escalated_at": at}
        self.deadlines = {}
        self.updated_at = at

    @event("ReturnRequested")
    def _return_requested(self, refund_amount: Decimal, outcome: str, resolved_by: str,
                          ship_by: datetime, actor: ActorData, at: datetime) -> None:
        self.return_shipment = {"refund_amount": refund_amount, "outcome": outcome,
                                "resolved_by": resolved_by, "ship_by": ship_by,
                                "status": "REQUESTED"}
        self._lapse_open_offer(at)
        self.status = Status.AWAITING_RETURN_SHIPMENT.value
        self.deadlines = {Deadline.RETURN_SHIPMENT.value: ship_by}
        self.updated_at = at

    @event("ReturnShipped")
    def _return_shipped(self, carrier: str, tracking_number: str, acknowledge_by: datetime,
                        actor: ActorData, at: datetime) -> None:
        self.return_shipment = {**(self.return_shipment or {}), "status": "SHIPPED",
                                "carrier": carrier, "tracking_number": tracking_number}
        self.status = Status.RETURN_IN_TRANSIT.value
        self.deadlines = {Deadline.RETURN_ACKNOWLEDGEMENT.value: acknowledge_by}
        self.updated_at = at

    @event("ReturnReceived")
    def _return_received(self, condition: str, actor: ActorData, at: datetime) -> None:
        self.return_shipment = {**(self.return_shipment or {}), "status": "RECEIVED",
                                "condition": condition}
        self.deadlines.pop(Deadline.RETURN_ACKNOWLEDGEMENT, None)
        self.updated_at = at

    @event("ReplacementShipped")
    def _replacement_shipped(self, carrier: str, tracking_number: str, actor: ActorData,
                             at: datetime) -> None:
        self.replacement = {"shipped": True, "carrier": carrier,
                            "tracking_number": tracking_number, "received": False}
        self.updated_at = at

    @event("ReplacementReceived")
    def _replacement_received(self, actor: ActorData, at: datetime) -> None:
        self.replacement = {**(self.replacement or {}), "received": True}
        self.updated_at = at

    @event("Resolved")
    def _resolved(self, outcome: str, resolved_by: str, remedy: str, refund_amount: Decimal,
                  currency: str, appeal_until: datetime, note: str, actor: ActorData,
                  at: datetime) -> None:
        self._lapse_open_offer(at)
        self.status = Status.RESOLVED.value
        self.resolution = {"outcome": outcome, "resolved_by": resolved_by, "remedy": remedy,
                           "refund_amount": refund_amount, "currency": currency,
                           "note": note, "resolved_at": at}
        self.deadlines = {Deadline.APPEAL_WINDOW.value: appeal_until}
        self.updated_at = at

    @event("RefundIssued")
    def _refund_issued(self, refund_id: str, amount: Decimal, currency: str, actor: ActorData,
                       at: datetime) -> None:
        self.refunds[refund_id] = {"amount": amount, "currency": currency, "issued_at": at}
        self.refunded_total += amount
        self.updated_at = at

    @event("RefundFailed")
    def _refund_failed(self, refund_id: str, reason: str, retryable: bool, actor: ActorData,
                       at: datetime) -> None:
        self.failed_refunds[refund_id] = {"reason": reason, "retryable": retryable,
                                          "failed_at": at}
        self.updated_at = at

    @event("RefundedOutsideDispute")
    def _refunded_outside_dispute(self, order_event_id: str, refunded_before: Decimal,
                                  actor: ActorData, at: datetime) -> None:
        self.refunded_total += refunded_before - self.refunded_before
        self.refunded_before = refunded_before
        self.outside_refunds.append(order_event_id)
        self.updated_at = at

    @event("Withdrawn")
    def _withdrawn(self, reason: str, actor: ActorData, at: datetime) -> None:
        self.status = Status.WITHDRAWN.value
        self.withdrawal_reason = reason
        self.deadlines = {}
        self.updated_at = at

    @event("Appealed")
    def _appealed(self, appeal_id: str, evidence_ids: list[str], reason: str, actor: ActorData,
                  at: datetime) -> None:
        self.appeals.append({"appeal_id": appeal_id, "evidence_ids": list(evidence_ids),
                             "reason": reason, "appealed_by": actor["role"],
                             "appealed_at": at, "status": "OPEN"})
        self.status = Status.APPEALED.value
        self.deadlines = {}
        self.updated_at = at

    @event("AppealDecided")
    def _appeal_decided(self, appeal_id: str, outcome: str, extra_refund: Decimal | None,
                        currency: str, note: str, actor: ActorData, at: datetime) -> None:
        self.appeals[-1] = {**self.appeals[-1], "status": "DECIDED", "outcome": outcome,
                            "extra_refund": extra_refund, "note": note, "decided_at": at}
        self.updated_at = at

    @event("Closed")
    def _closed(self, reason: str, actor: ActorData, at: datetime) -> None:
        self.status = Status.CLOSED.value
        self.closed_reason = reason
        self.deadlines = {}
        self.updated_at = at

    @event("FeedbackLeft")
    def _feedback_left(self, rating: int, comment: str, actor: ActorData, at: datetime) -> None:
        self.feedback[actor["role"]] = {"rating": rating, "comment": comment, "left_at": at}
        self.updated_at = at


def _opened_v1_to_v2(state: dict[str, Any]) -> None:
    """Disputes opened by the walking skeleton (stored `Opened` v1) recorded neither the
    escalation window nor the negotiation deadline: they get the default policy's, counted
    from their opening, as `Dispute.open` records them today."""
    policy = DisputePolicy()
    state.setdefault("escalation_allowed_from", state["at"] + policy.escalation_opens_after)
    deadlines = state.setdefault("deadlines", {})
    deadlines.setdefault(Deadline.NEGOTIATION_MAX.value, state["at"] + policy.negotiation_max)


def _opened_v2_to_v3(state: dict[str, Any]) -> None:
    """Disputes opened before refunds outside disputes were counted had none counted."""
    state.setdefault("refunded_before", Decimal("0"))


Dispute.Opened.class_version = 3
Dispute.Opened.upcast_v1_v2 = staticmethod(_opened_v1_to_v2)
Dispute.Opened.upcast_v2_v3 = staticmethod(_opened_v2_to_v3)
