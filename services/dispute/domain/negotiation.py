"""Negotiation between the parties: offers, the claim, escalation and withdrawal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, rules
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    BEFORE_RESOLUTION, NEGOTIATION_STATES, Actor, EscalationTrigger, EvidenceFile, OfferTerms,
    RequestType, Role, Status,
)

_OFFER_ANSWERABLE = NEGOTIATION_STATES | {Status.UNDER_REVIEW}
_ESCALATABLE = NEGOTIATION_STATES | {Status.AWAITING_REPLACEMENT}


class NegotiationCommands:
    """Mixed into `Dispute`: `self` is the aggregate."""

    def make_offer(self, *, offer_id: str, offer_type: str, amount: Decimal | None = None,
                   currency: str | None = None, note: str = "", actor: Actor, at: datetime,
                   policy: DisputePolicy) -> None:
        """The party whose move it is proposes a solution; it supersedes any open offer."""
        self._check_negotiating(actor, at)
        rules.require_turn(self, actor)
        terms = OfferTerms(offer_id, offer_type, amount, currency, note)
        amount = self._check_offer(terms, policy)
        self._respond_as_seller(actor, at)
        self._record_offer(terms, amount, actor, at, policy)

    def accept_offer(self, *, offer_id: str, actor: Actor, at: datetime,
                     policy: DisputePolicy) -> None:
        """The counterparty accepts the current offer: resolve, return, or replace."""
        self._check_negotiating(actor, at, allowed=_OFFER_ANSWERABLE)
        offer = self._check_answerable(offer_id, actor)
        amount = offer["amount"]
        if amount is not None:
            rules.require_refund_amount(amount, refundable=self.refundable_amount,
                                        currency=None, dispute_currency=self.currency)
        self._respond_as_seller(actor, at)
        self._offer_accepted(offer_id=offer_id, remedy=offer["offer_type"],
                             refund_amount=amount or Decimal("0"), actor=actor.as_dict(), at=at)
        self._carry_out_agreement(actor, at, policy)

    def reject_offer(self, *, offer_id: str, counter_offer: OfferTerms | None = None,
                     reason: str = "", actor: Actor, at: datetime,
                     policy: DisputePolicy) -> None:
        """The counterparty rejects the current offer, optionally countering it.

        Rejecting the offer of the last allowed round escalates automatically.
        """
        self._check_negotiating(actor, at)
        self._check_answerable(offer_id, actor)
        counter_amount = self._check_offer(counter_offer, policy) if counter_offer else None
        window = (policy.seller_response_window if actor.role == Role.BUYER
                  else policy.buyer_response_window)
        self._respond_as_seller(actor, at)
        self._offer_rejected(offer_id=offer_id, reason=reason, respond_by=at + window,
                             actor=actor.as_dict(), at=at)
        if counter_offer is not None:
            self._record_offer(counter_offer, counter_amount, actor, at, policy)
        elif self.rounds >= policy.max_offer_rounds:
            self._escalate(EscalationTrigger.MAX_ROUNDS_REACHED, actor, at, automatic=True)

    def accept_claim(self, *, actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        """The seller grants what the buyer asked for when opening."""
        self._check_seller_answering_claim(actor, at)
        refund = self._claimed_refund()
        self._respond_as_seller(actor, at)
        if self.current_offer_id is not None:
            self._offer_superseded(offer_id=self.current_offer_id, actor=actor.as_dict(), at=at)
        self._claim_accepted(remedy=self.request, refund_amount=refund, actor=actor.as_dict(),
                             at=at)
        self._carry_out_agreement(actor, at, policy)

    def reject_claim(self, *, evidence: Sequence[EvidenceFile] = (),
                     evidence_ids: Sequence[str] = (), counter_offer: OfferTerms | None = None,
                     reason: str = "", actor: Actor, at: datetime,
                     policy: DisputePolicy) -> None:
        """The seller refuses the claim, bringing evidence or a solution of their own.

        Evidence comes as new files, or as ids of evidence the seller already added.
        """
        self._check_seller_answering_claim(actor, at)
        if self.current_offer_id is not None:
            raise errors.InvalidTransition("answer the buyer's open offer instead",
                                           offer_id=self.current_offer_id)
        if not evidence and not evidence_ids and counter_offer is None:
            raise errors.ValidationFailed("rejecting needs evidence or a counter-offer")
        rules.require_own_evidence(self, evidence_ids, actor)
        rules.require_evidence_files(evidence, self.evidence)
        rules.require_evidence_room(self, len(evidence), policy)
        counter_amount = self._check_offer(counter_offer, policy) if counter_offer else None
        self._respond_as_seller(actor, at)
        self._add_evidence_files(evidence, actor, at)
        all_ids = [*evidence_ids, *(file.evidence_id for file in evidence)]
        self._claim_rejected(evidence_ids=all_ids, reason=reason,
                             respond_by=at + policy.buyer_response_window,
                             actor=actor.as_dict(), at=at)
        if counter_offer is not None:
            self._record_offer(counter_offer, counter_amount, actor, at, policy)

    def escalate(self, *, note: str = "", actor: Actor, at: datetime) -> None:
        """A party asks the platform to decide, once the escalation window has opened."""
        rules.require_parties(self, actor)
        rules.require_status(self, _ESCALATABLE)
        rules.require_on_time(self, at, errors.InvalidTransition)
        rules.require_escalation_open(self, at)
        self._respond_as_seller(actor, at)
        self._escalate(EscalationTrigger.PARTY_REQUEST, actor, at, automatic=False, note=note)

    def withdraw(self, *, reason: str = "", actor: Actor, at: datetime) -> None:
        """The buyer cancels the dispute before it is resolved; it can never be reopened."""
        rules.require_party(self, actor, Role.BUYER)
        rules.require_status(self, BEFORE_RESOLUTION)
        if self.current_offer_id is not None:
            self._offer_withdrawn(offer_id=self.current_offer_id, actor=actor.as_dict(), at=at)
        self._withdrawn(reason=reason, actor=actor.as_dict(), at=at)

    # Checks ------------------------------------------------------------------------------

    def _check_negotiating(self, actor: Actor, at: datetime,
                           allowed: frozenset[str] = NEGOTIATION_STATES) -> None:
        rules.require_parties(self, actor)
        rules.require_status(self, allowed, errors.NotOpenForNegotiation)
        rules.require_on_time(self, at, errors.NotOpenForNegotiation)

    def _check_answerable(self, offer_id: str, actor: Actor) -> dict:
        offer = self.current_offer
        if offer is None or offer["offer_id"] != offer_id:
            raise errors.OfferNotCurrent(f"offer {offer_id} is not the current offer",
                                         offer_id=offer_id, current_offer_id=self.current_offer_id)
        if offer["made_by"] == actor.role:
            raise errors.NotYourTurn("only the other party may answer this offer",
                                     offer_id=offer_id)
        return offer

    def _check_seller_answering_claim(self, actor: Actor, at: datetime) -> None:
        rules.require_party(self, actor, Role.SELLER)
        rules.require_status(self, NEGOTIATION_STATES, errors.NotOpenForNegotiation)
        rules.require_on_time(self, at, errors.NotOpenForNegotiation)
        rules.require_turn(self, actor)

    def _claimed_refund(self) -> Decimal:
        if self.request == RequestType.REPLACEMENT:
            return Decimal("0")
        claimed = (self.refundable_amount if self.request == RequestType.FULL_REFUND
                   else self.request_amount)
        return rules.require_refund_amount(claimed, refundable=self.refundable_amount,
                                           currency=None, dispute_currency=self.currency)
