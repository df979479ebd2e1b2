"""The Dispute aggregate: one event stream per dispute, readable in two files.

Each public command below calls the pure decision of the same name in its topic module
(opening, negotiation, fulfilment, review, conversation, refunds, timers): it reads the typed
state, checks the rules and returns the records to make (`records`). `_record` then triggers
the event of each record's name, defined further down, whose body only assigns: it runs again
on every replay, so no rule may live there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.dispute.domain import (
    conversation, fulfilment, negotiation, opening, refunds, review, state, timers,
)
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.records import Record
from services.dispute.domain.state import (
    Agreement, Appeal, Escalation, Evidence, EvidenceRequest, FailedRefund, Feedback, Message,
    Offer, Refund, Replacement, Resolution, ReturnShipment,
)
from services.dispute.domain.values import (
    DEADLINE_WORKER, Actor, AppealOutcome, AppealStatus, CloseReason, Deadline, EscalationTrigger,
    EvidenceFile, EvidenceRequestStatus, OfferStatus, OfferTerms, Outcome, Reason, Remedy,
    RequestType, ResolvedBy, ReturnCondition, ReturnStatus, Role, Status, Visibility,
)

ActorData = dict[str, str]


class Dispute(Aggregate):
    # Commands: each is one decision, then what it decided is recorded ------------------

    @classmethod
    def open(cls, *, dispute_id: UUID, order: OrderFacts, item_id: str, actor: Actor,
             reason: str, request: str, request_amount: Decimal | None, description: str,
             at: datetime, policy: DisputePolicy,
             evidence: tuple[EvidenceFile, ...] = ()) -> Dispute:
        """The buyer opens a dispute on one item of their order (optionally with evidence).
        The id comes from outside (`DisputeIds`): one per (order, item), as the store refuses
        a second stream under the same id."""
        opened = opening.open_dispute(order, item_id, actor, reason, request, request_amount,
                                      description, at, policy, evidence)
        dispute = cls._create(  # the library's way to create an aggregate under a given id
            cls.Opened,  # type: ignore[attr-defined]  # made by @event
            id=dispute_id, actor=actor.as_dict(), at=at, **opened.payload())
        dispute._record(conversation.evidence_added(dispute, evidence, actor), actor, at)
        return dispute

    def make_offer(self, *, offer_id: str, offer_type: str, amount: Decimal | None = None,
                   currency: str | None = None, note: str = "", actor: Actor, at: datetime,
                   policy: DisputePolicy) -> None:
        terms = OfferTerms(offer_id, offer_type, amount, currency, note)
        self._record(negotiation.make_offer(self, terms, actor, at, policy), actor, at)

    def accept_offer(self, *, offer_id: str, actor: Actor, at: datetime,
                     policy: DisputePolicy) -> None:
        self._record(negotiation.accept_offer(self, offer_id, actor, at, policy), actor, at)

    def reject_offer(self, *, offer_id: str, counter_offer: OfferTerms | None = None,
                     reason: str = "", actor: Actor, at: datetime,
                     policy: DisputePolicy) -> None:
        self._record(negotiation.reject_offer(self, offer_id, counter_offer, reason, actor, at,
                                              policy), actor, at)

    def accept_claim(self, *, actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        self._record(negotiation.accept_claim(self, actor, at, policy), actor, at)

    def reject_claim(self, *, evidence: Sequence[EvidenceFile] = (),
                     evidence_ids: Sequence[str] = (), counter_offer: OfferTerms | None = None,
                     reason: str = "", actor: Actor, at: datetime,
                     policy: DisputePolicy) -> None:
        self._record(negotiation.reject_claim(self, evidence, evidence_ids, counter_offer,
                                              reason, actor, at, policy), actor, at)

    def escalate(self, *, note: str = "", actor: Actor, at: datetime) -> None:
        self._record(negotiation.escalate(self, note, actor, at), actor, at)

    def withdraw(self, *, reason: str = "", actor: Actor, at: datetime) -> None:
        self._record(negotiation.withdraw(self, reason, actor), actor, at)

    def ship_return(self, *, carrier: str, tracking_number: str, actor: Actor, at: datetime,
                    policy: DisputePolicy) -> None:
        self._record(fulfilment.ship_return(self, carrier, tracking_number, actor, at, policy),
                     actor, at)

    def acknowledge_return(self, *, condition: str, evidence: Sequence[EvidenceFile] = (),
                           evidence_ids: Sequence[str] = (), note: str = "", actor: Actor,
                           at: datetime, policy: DisputePolicy) -> None:
        self._record(fulfilment.acknowledge_return(self, condition, evidence, evidence_ids,
                                                   note, actor, at, policy), actor, at)

    def ship_replacement(self, *, carrier: str, tracking_number: str, actor: Actor,
                         at: datetime) -> None:
        self._record(fulfilment.ship_replacement(self, carrier, tracking_number, actor),
                     actor, at)

    def confirm_replacement(self, *, actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        self._record(fulfilment.confirm_replacement(self, actor, at, policy), actor, at)

    def request_evidence(self, *, request_id: str, from_party: str, note: str = "",
                         actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        self._record(review.request_evidence(self, request_id, from_party, note, actor, at,
                                             policy), actor, at)

    def decide(self, *, outcome: str, refund_amount: Decimal | None = None,
               currency: str | None = None, return_required: bool = False, note: str = "",
               actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        self._record(review.decide(self, outcome, refund_amount, currency, return_required,
                                   note, actor, at, policy), actor, at)

    def appeal(self, *, appeal_id: str, evidence_ids: Sequence[str], reason: str = "",
               actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        self._record(review.appeal(self, appeal_id, evidence_ids, reason, actor, at, policy),
                     actor, at)

    def decide_appeal(self, *, appeal_id: str, outcome: str, extra_refund: Decimal | None = None,
                      currency: str | None = None, note: str = "", actor: Actor,
                      at: datetime) -> None:
        self._record(review.decide_appeal(self, appeal_id, outcome, extra_refund, currency,
                                          note, actor), actor, at)

    def close(self, *, actor: Actor, at: datetime) -> None:
        self._record(review.close(self, actor), actor, at)

    def add_evidence(self, *, evidence_id: str, sha256: str, content_type: str, size: int,
                     filename: str, description: str = "", actor: Actor, at: datetime,
                     policy: DisputePolicy = DisputePolicy()) -> None:
        file = EvidenceFile(evidence_id, sha256, content_type, size, filename, description)
        self._record(conversation.add_evidence(self, file, actor, policy), actor, at)

    def post_message(self, *, message_id: str, text: str, visibility: str = Visibility.PARTIES,
                     actor: Actor, at: datetime, policy: DisputePolicy = DisputePolicy()) -> None:
        self._record(conversation.post_message(self, message_id, text, visibility, actor,
                                               policy), actor, at)

    def leave_feedback(self, *, rating: int, comment: str = "", actor: Actor,
                       at: datetime) -> None:
        self._record(conversation.leave_feedback(self, rating, comment, actor), actor, at)

    def reply_to_feedback(self, *, feedback_of: str, text: str, actor: Actor,
                          at: datetime) -> None:
        self._record(conversation.reply_to_feedback(self, feedback_of, text, actor), actor, at)

    def note_refund_outside_dispute(self, *, order: OrderFacts, order_event_id: str,
                                    actor: Actor, at: datetime) -> None:
        self._record(refunds.note_refund_outside_dispute(self, order, order_event_id, actor),
                     actor, at)

    def record_refund_issued(self, *, refund_id: str, amount: Decimal, currency: str,
                             actor: Actor, at: datetime) -> None:
        self._record(refunds.record_refund_issued(self, refund_id, amount, currency, actor),
                     actor, at)

    def record_refund_failed(self, *, refund_id: str, reason: str, retryable: bool,
                             actor: Actor, at: datetime) -> None:
        self._record(refunds.record_refund_failed(self, refund_id, reason, retryable, actor),
                     actor, at)

    def expire_due_deadlines(self, *, at: datetime, policy: DisputePolicy) -> list[str]:
        """Apply, in due order, every deadline due at or before `at`; return the names fired."""
        fired: list[str] = []
        while (due := timers.earliest_deadline(self)) is not None and due[1] <= at:
            name, when = due
            self._record(timers.on_deadline(self, name, when, policy), DEADLINE_WORKER, when)
            if self.deadlines.get(name) == when:
                raise RuntimeError(f"deadline {name} survived its own consequence")
            fired.append(name.value)
        return fired

    def _record(self, changes: Iterable[Record], actor: Actor, at: datetime) -> None:
        """Trigger, in order, the event named as each record (bodies below), by `actor` at `at`."""
        for change in changes:
            event_class = getattr(type(self), type(change).__name__)
            self.trigger_event(event_class, actor=actor.as_dict(), at=at, **change.payload())

    # Reading the state ------------------------------------------------------------------

    @property
    def refundable_amount(self) -> Decimal:
        return state.refundable_amount(self)

    @property
    def awaiting(self) -> str:
        """Whose move it is: "buyer", "seller", "operator" or "none"."""
        return state.awaiting(self)

    @property
    def current_offer(self) -> Offer | None:
        return state.current_offer(self)

    @property
    def next_deadline(self) -> datetime | None:
        return min(self.deadlines.values(), default=None)

    # Events: bodies only assign ---------------------------------------------------------

    @event("Opened")
    def __init__(self, order_id: str, item_id: str, buyer_id: str, seller_id: str, reason: str,
                 request: str, request_amount: Decimal | None, description: str,
                 paid_amount: Decimal, refunded_before: Decimal, currency: str,
                 actor: ActorData, at: datetime, deadlines: dict[str, datetime],
                 escalation_allowed_from: datetime) -> None:
        self.order_id, self.item_id = order_id, item_id
        self.buyer_id, self.seller_id = buyer_id, seller_id
        self.reason, self.request = Reason(reason), RequestType(request)
        self.request_amount = request_amount
        self.description = description
        self.paid_amount, self.currency = paid_amount, currency
        self.refunded_before: Decimal = refunded_before
        self.refunded_total: Decimal = refunded_before
        self.outside_refunds: list[str] = []
        self.status = Status.AWAITING_SELLER_RESPONSE
        self.deadlines = {Deadline(name): due for name, due in deadlines.items()}
        self.escalation_allowed_from = escalation_allowed_from
        self.opened_at = self.updated_at = at
        self.seller_responded = False
        self.offers: dict[str, Offer] = {}
        self.current_offer_id: str | None = None
        self.rounds = 0
        self.agreement: Agreement | None = None
        self.return_shipment: ReturnShipment | None = None
        self.replacement: Replacement | None = None
        self.escalation: Escalation | None = None
        self.evidence: dict[str, Evidence] = {}
        self.evidence_request: EvidenceRequest | None = None
        self.messages: list[Message] = []
        # every message's id, for the check that a new one is new: the list of all of them,
        # built again for every message posted, grew with the conversation (~20 us at 200)
        self.message_ids: set[str] = set()
        self.missed_deadlines: list[Deadline] = []
        self.resolution: Resolution | None = None
        self.appeals: list[Appeal] = []
        self.closed_reason: CloseReason | None = None
        self.withdrawal_reason: str | None = None
        self.feedback: dict[Role, Feedback] = {}
        self.refunds: dict[str, Refund] = {}
        self.failed_refunds: dict[str, FailedRefund] = {}

    @event("SellerResponded")
    def _seller_responded(self, actor: ActorData, at: datetime) -> None:
        self.seller_responded = True
        self.updated_at = at

    @event("OfferMade")
    def _offer_made(self, offer_id: str, offer_type: str, amount: Decimal | None, currency: str,
                    round_number: int, made_by: str, respond_by: datetime, note: str,
                    actor: ActorData, at: datetime) -> None:
        self.offers[offer_id] = Offer(
            offer_id=offer_id, offer_type=RequestType(offer_type), amount=amount,
            currency=currency, round=round_number, made_by=Role(made_by), note=note,
            status=OfferStatus.OPEN, made_at=at, respond_by=respond_by)
        self.current_offer_id = offer_id
        self.rounds = round_number
        self._await(state.other_party(made_by), respond_by)
        self.updated_at = at

    @event("OfferSuperseded")
    def _offer_superseded(self, offer_id: str, actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.SUPERSEDED, at)

    @event("OfferAccepted")
    def _offer_accepted(self, offer_id: str, remedy: str, refund_amount: Decimal,
                        actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.ACCEPTED, at)
        self._agree(Agreement(RequestType(remedy), refund_amount, ResolvedBy.AGREEMENT))

    @event("OfferRejected")
    def _offer_rejected(self, offer_id: str, reason: str, respond_by: datetime,
                        actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.REJECTED, at)
        self._await(state.other_party(actor["role"]), respond_by)

    @event("OfferExpired")
    def _offer_expired(self, offer_id: str, actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.EXPIRED, at)

    @event("OfferWithdrawn")
    def _offer_withdrawn(self, offer_id: str, actor: ActorData, at: datetime) -> None:
        self._settle_offer(offer_id, OfferStatus.WITHDRAWN, at)

    @event("ClaimAccepted")
    def _claim_accepted(self, remedy: str, refund_amount: Decimal, actor: ActorData,
                        at: datetime) -> None:
        self._agree(Agreement(RequestType(remedy), refund_amount,
                              ResolvedBy.SELLER_ACCEPTED_CLAIM))
        self.updated_at = at

    @event("ClaimRejected")
    def _claim_rejected(self, evidence_ids: list[str], reason: str, respond_by: datetime,
                        actor: ActorData, at: datetime) -> None:
        self._await(Role.BUYER, respond_by)
        self.updated_at = at

    @event("EvidenceAdded")
    def _evidence_added(self, evidence_id: str, sha256: str, content_type: str, size: int,
                        filename: str, description: str, after_resolution: bool | None,
                        answered_request_id: str | None, actor: ActorData,
                        at: datetime) -> None:
        if after_resolution is None:  # stored as v1, which left both facts to the replay
            after_resolution, answered_request_id = self._evidence_facts_v1(Role(actor["role"]))
        self.evidence[evidence_id] = Evidence(
            evidence_id=evidence_id, sha256=sha256, content_type=content_type, size=size,
            filename=filename, description=description, added_by=Role(actor["role"]),
            added_at=at, after_resolution=after_resolution)
        if answered_request_id is not None and self.evidence_request is not None:
            self.evidence_request = replace(self.evidence_request,
                                            status=EvidenceRequestStatus.ANSWERED)
            self.deadlines.pop(Deadline.EVIDENCE_REQUEST, None)
        self.updated_at = at

    @event("EvidenceRequested")
    def _evidence_requested(self, request_id: str, from_party: str, note: str, due: datetime,
                            actor: ActorData, at: datetime) -> None:
        self.evidence_request = EvidenceRequest(request_id, Role(from_party), note, due,
                                                EvidenceRequestStatus.OPEN)
        self.deadlines[Deadline.EVIDENCE_REQUEST] = due
        self.updated_at = at

    @event("MessagePosted")
    def _message_posted(self, message_id: str, text: str, visibility: str, actor: ActorData,
                        at: datetime) -> None:
        self.messages.append(Message(message_id, text, Visibility(visibility),
                                     Actor.from_dict(actor), at))
        self.message_ids.add(message_id)
        self.updated_at = at

    @event("DeadlineMissed")
    def _deadline_missed(self, deadline: str, due: datetime, actor: ActorData,
                         at: datetime) -> None:
        self.deadlines.pop(Deadline(deadline), None)
        self.missed_deadlines.append(Deadline(deadline))
        if deadline == Deadline.EVIDENCE_REQUEST and self.evidence_request:
            self.evidence_request = replace(self.evidence_request,
                                            status=EvidenceRequestStatus.MISSED)
        if deadline == Deadline.RETURN_SHIPMENT and self.return_shipment:
            self.return_shipment = replace(self.return_shipment, status=ReturnStatus.MISSED)
        self.updated_at = at

    @event("Escalated")
    def _escalated(self, trigger: str, automatic: bool, note: str, actor: ActorData,
                   at: datetime) -> None:
        self.status = Status.UNDER_REVIEW
        self.escalation = Escalation(EscalationTrigger(trigger), automatic, note,
                                     Actor.from_dict(actor), at)
        self.deadlines = {}
        self.updated_at = at

    @event("ReturnRequested")
    def _return_requested(self, refund_amount: Decimal, outcome: str, resolved_by: str,
                          ship_by: datetime, actor: ActorData, at: datetime) -> None:
        self.return_shipment = ReturnShipment(refund_amount, Outcome(outcome),
                                              ResolvedBy(resolved_by), ship_by)
        self._lapse_open_offer(at)
        self.status = Status.AWAITING_RETURN_SHIPMENT
        self.deadlines = {Deadline.RETURN_SHIPMENT: ship_by}
        self.updated_at = at

    @event("ReturnShipped")
    def _return_shipped(self, carrier: str, tracking_number: str, acknowledge_by: datetime,
                        actor: ActorData, at: datetime) -> None:
        if self.return_shipment is not None:
            self.return_shipment = replace(self.return_shipment, status=ReturnStatus.SHIPPED,
                                           carrier=carrier, tracking_number=tracking_number)
        self.status = Status.RETURN_IN_TRANSIT
        self.deadlines = {Deadline.RETURN_ACKNOWLEDGEMENT: acknowledge_by}
        self.updated_at = at

    @event("ReturnReceived")
    def _return_received(self, condition: str, actor: ActorData, at: datetime) -> None:
        if self.return_shipment is not None:
            self.return_shipment = replace(self.return_shipment, status=ReturnStatus.RECEIVED,
                                           condition=ReturnCondition(condition))
        self.deadlines.pop(Deadline.RETURN_ACKNOWLEDGEMENT, None)
        self.updated_at = at

    @event("ReplacementShipped")
    def _replacement_shipped(self, carrier: str, tracking_number: str, actor: ActorData,
                             at: datetime) -> None:
        self.replacement = Replacement(shipped=True, carrier=carrier,
                                       tracking_number=tracking_number)
        self.updated_at = at

    @event("ReplacementReceived")
    def _replacement_received(self, actor: ActorData, at: datetime) -> None:
        self.replacement = replace(self.replacement or Replacement(), received=True)
        self.updated_at = at

    @event("Resolved")
    def _resolved(self, outcome: str, resolved_by: str, remedy: str, refund_amount: Decimal,
                  currency: str, appeal_until: datetime, note: str, actor: ActorData,
                  at: datetime) -> None:
        self._lapse_open_offer(at)
        self.status = Status.RESOLVED
        self.resolution = Resolution(Outcome(outcome), ResolvedBy(resolved_by), Remedy(remedy),
                                     refund_amount, currency, note, at)
        self.deadlines = {Deadline.APPEAL_WINDOW: appeal_until}
        self.updated_at = at

    @event("RefundIssued")
    def _refund_issued(self, refund_id: str, amount: Decimal, currency: str, actor: ActorData,
                       at: datetime) -> None:
        self.refunds[refund_id] = Refund(amount, currency, at)
        self.refunded_total += amount
        self.updated_at = at

    @event("RefundFailed")
    def _refund_failed(self, refund_id: str, reason: str, retryable: bool, actor: ActorData,
                       at: datetime) -> None:
        self.failed_refunds[refund_id] = FailedRefund(reason, retryable, at)
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
        self.status = Status.WITHDRAWN
        self.withdrawal_reason = reason
        self.deadlines = {}
        self.updated_at = at

    @event("Appealed")
    def _appealed(self, appeal_id: str, evidence_ids: list[str], reason: str, actor: ActorData,
                  at: datetime) -> None:
        self.appeals.append(Appeal(appeal_id, tuple(evidence_ids), reason, Role(actor["role"]),
                                   at))
        self.status = Status.APPEALED
        self.deadlines = {}
        self.updated_at = at

    @event("AppealDecided")
    def _appeal_decided(self, appeal_id: str, outcome: str, extra_refund: Decimal | None,
                        currency: str, note: str, actor: ActorData, at: datetime) -> None:
        self.appeals[-1] = replace(self.appeals[-1], status=AppealStatus.DECIDED,
                                   outcome=AppealOutcome(outcome), extra_refund=extra_refund,
                                   note=note, decided_at=at)
        self.updated_at = at

    @event("Closed")
    def _closed(self, reason: str, actor: ActorData, at: datetime) -> None:
        self.status = Status.CLOSED
        self.closed_reason = CloseReason(reason)
        self.deadlines = {}
        self.updated_at = at

    @event("FeedbackLeft")
    def _feedback_left(self, rating: int, comment: str, actor: ActorData, at: datetime) -> None:
        self.feedback[Role(actor["role"])] = Feedback(rating, comment, at)
        self.updated_at = at

    @event("FeedbackReplied")
    def _feedback_replied(self, feedback_of: str, text: str, actor: ActorData,
                          at: datetime) -> None:
        role = Role(feedback_of)
        self.feedback[role] = replace(self.feedback[role], reply=text, replied_at=at)
        self.updated_at = at

    # Assignments shared by the event bodies ---------------------------------------------

    def _evidence_facts_v1(self, added_by: Role) -> tuple[bool, str | None]:
        """How an `EvidenceAdded` v1 is read, pinned as v1 recorded it (never today's rule):
        after the resolution if the dispute was resolved; answering the open request of the
        party it asked."""
        request = self.evidence_request
        answers = (request.request_id if request is not None and request.from_party == added_by
                   and request.status == EvidenceRequestStatus.OPEN else None)
        return self.status == Status.RESOLVED, answers

    def _await(self, party: Role, due: datetime) -> None:
        if party == Role.SELLER:
            self.status = Status.AWAITING_SELLER_RESPONSE
            self.deadlines.pop(Deadline.BUYER_RESPONSE, None)
            self.deadlines[Deadline.SELLER_RESPONSE] = due
        else:
            self.status = Status.AWAITING_BUYER_RESPONSE
            self.deadlines.pop(Deadline.SELLER_RESPONSE, None)
            self.deadlines[Deadline.BUYER_RESPONSE] = due

    def _settle_offer(self, offer_id: str, status: OfferStatus, at: datetime) -> None:
        self.offers[offer_id] = replace(self.offers[offer_id], status=status)
        if self.current_offer_id == offer_id:
            self.current_offer_id = None
        self.updated_at = at

    def _lapse_open_offer(self, at: datetime) -> None:
        if self.current_offer_id is not None:
            self._settle_offer(self.current_offer_id, OfferStatus.LAPSED, at)

    def _agree(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self.deadlines = {}
        if agreement.remedy == RequestType.REPLACEMENT:
            self.status = Status.AWAITING_REPLACEMENT
            self.replacement = Replacement()


# Reading events of older class versions --------------------------------------------------
# Upcasters run on stored dicts, once per event, with no state: what they fill in is pinned
# here, never read from today's policy or rules, so an old stream replays as it was recorded.

SKELETON_ESCALATION_OPENS_AFTER = timedelta(days=3)
SKELETON_NEGOTIATION_MAX = timedelta(days=15)
"""The windows of the walking skeleton's policy, which its `Opened` v1 did not record."""


def _opened_v1_to_v2(stored: dict[str, Any]) -> None:
    """Disputes opened by the walking skeleton (stored `Opened` v1) recorded neither the
    escalation window nor the negotiation deadline: they get the skeleton's own windows,
    counted from their opening."""
    stored.setdefault("escalation_allowed_from", stored["at"] + SKELETON_ESCALATION_OPENS_AFTER)
    deadlines = stored.setdefault("deadlines", {})
    deadlines.setdefault(Deadline.NEGOTIATION_MAX.value, stored["at"] + SKELETON_NEGOTIATION_MAX)


def _opened_v2_to_v3(stored: dict[str, Any]) -> None:
    """Disputes opened before refunds outside disputes were counted had none counted."""
    stored.setdefault("refunded_before", Decimal("0"))


def _evidence_added_v1_to_v2(stored: dict[str, Any]) -> None:
    """`EvidenceAdded` v1 did not record whether it came after the resolution nor which request
    it answered: None tells the event body to read it as v1 did (`_evidence_facts_v1`)."""
    stored.setdefault("after_resolution", None)
    stored.setdefault("answered_request_id", None)


Dispute.Opened.class_version = 3  # type: ignore[attr-defined]
Dispute.Opened.upcast_v1_v2 = staticmethod(_opened_v1_to_v2)  # type: ignore[attr-defined]
Dispute.Opened.upcast_v2_v3 = staticmethod(_opened_v2_to_v3)  # type: ignore[attr-defined]
Dispute.EvidenceAdded.class_version = 2  # type: ignore[attr-defined]
Dispute.EvidenceAdded.upcast_v1_v2 = staticmethod(  # type: ignore[attr-defined]
    _evidence_added_v1_to_v2)
