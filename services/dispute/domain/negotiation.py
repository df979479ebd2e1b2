"""Negotiation between the parties: offers, the claim, escalation and withdrawal.

Each function is the decision of the `Dispute` command of the same name: it reads the state,
checks the rules (raising a named `DomainError`) and returns what to record, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, records, rules
from services.dispute.domain.conversation import evidence_added
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.records import Record
from services.dispute.domain.state import (
    DisputeState, Offer, current_offer, refundable_amount,
)
from services.dispute.domain.values import (
    BEFORE_RESOLUTION, NEGOTIATION_STATES, Actor, EscalationTrigger, EvidenceFile, OfferTerms,
    Outcome, Remedy, RequestType, ResolvedBy, Role, Status,
)

_OFFER_ANSWERABLE = NEGOTIATION_STATES | {Status.UNDER_REVIEW}
_ESCALATABLE = NEGOTIATION_STATES | {Status.AWAITING_REPLACEMENT}


def make_offer(state: DisputeState, terms: OfferTerms, actor: Actor, at: datetime,
               policy: DisputePolicy) -> list[Record]:
    """The party whose move it is proposes a solution; it supersedes any open offer."""
    _check_negotiating(state, actor, at)
    rules.require_turn(state, actor)
    amount = _check_offer(state, terms, policy)
    return [*_seller_response(state, actor),
            *_offer_made(state, terms, amount, actor, at, policy, state.current_offer_id)]


def accept_offer(state: DisputeState, offer_id: str, actor: Actor, at: datetime,
                 policy: DisputePolicy) -> list[Record]:
    """The counterparty accepts the current offer: resolve, return, or replace."""
    _check_negotiating(state, actor, at, allowed=_OFFER_ANSWERABLE)
    offer = _check_answerable(state, offer_id, actor)
    if offer.amount is not None:
        rules.require_refund_amount(offer.amount, refundable=refundable_amount(state),
                                    currency=None, dispute_currency=state.currency)
    refund = offer.amount or Decimal("0")
    return [*_seller_response(state, actor),
            records.OfferAccepted(offer_id=offer_id, remedy=offer.offer_type,
                                  refund_amount=refund),
            *_carry_out(state, offer.offer_type, refund, ResolvedBy.AGREEMENT, at, policy)]


def reject_offer(state: DisputeState, offer_id: str, counter_offer: OfferTerms | None,
                 reason: str, actor: Actor, at: datetime, policy: DisputePolicy) -> list[Record]:
    """The counterparty rejects the current offer, optionally countering it.

    Rejecting the offer of the last allowed round escalates automatically.
    """
    _check_negotiating(state, actor, at)
    _check_answerable(state, offer_id, actor)
    window = (policy.seller_response_window if actor.role == Role.BUYER
              else policy.buyer_response_window)
    rejected: list[Record] = [
        *_seller_response(state, actor),
        records.OfferRejected(offer_id=offer_id, reason=reason, respond_by=at + window)]
    if counter_offer is not None:
        amount = _check_offer(state, counter_offer, policy)
        return [*rejected, *_offer_made(state, counter_offer, amount, actor, at, policy, None)]
    if state.rounds >= policy.max_offer_rounds:
        return [*rejected, records.Escalated(EscalationTrigger.MAX_ROUNDS_REACHED, True)]
    return rejected


def accept_claim(state: DisputeState, actor: Actor, at: datetime,
                 policy: DisputePolicy) -> list[Record]:
    """The seller grants what the buyer asked for when opening."""
    _check_seller_answering_claim(state, actor, at)
    refund = _claimed_refund(state)
    superseded = ([records.OfferSuperseded(state.current_offer_id)]
                  if state.current_offer_id is not None else [])
    return [*_seller_response(state, actor), *superseded,
            records.ClaimAccepted(remedy=state.request, refund_amount=refund),
            *_carry_out(state, state.request, refund, ResolvedBy.SELLER_ACCEPTED_CLAIM, at,
                        policy)]


def reject_claim(state: DisputeState, evidence: Sequence[EvidenceFile],
                 evidence_ids: Sequence[str], counter_offer: OfferTerms | None, reason: str,
                 actor: Actor, at: datetime, policy: DisputePolicy) -> list[Record]:
    """The seller refuses the claim, bringing evidence or a solution of their own.

    Evidence comes as new files, or as ids of evidence the seller already added.
    """
    _check_seller_answering_claim(state, actor, at)
    if state.current_offer_id is not None:
        raise errors.InvalidTransition("answer the buyer's open offer instead",
                                       offer_id=state.current_offer_id)
    if not evidence and not evidence_ids and counter_offer is None:
        raise errors.ValidationFailed("rejecting needs evidence or a counter-offer")
    rules.require_own_evidence(state, evidence_ids, actor)
    rules.require_evidence_files(evidence, state.evidence)
    rules.require_evidence_room(state, len(evidence), policy)
    counter = ([] if counter_offer is None else _offer_made(
        state, counter_offer, _check_offer(state, counter_offer, policy), actor, at, policy, None))
    all_ids = (*evidence_ids, *(file.evidence_id for file in evidence))
    return [*_seller_response(state, actor), *evidence_added(state, evidence, actor),
            records.ClaimRejected(evidence_ids=all_ids, reason=reason,
                                  respond_by=at + policy.buyer_response_window),
            *counter]


def escalate(state: DisputeState, note: str, actor: Actor, at: datetime) -> list[Record]:
    """A party asks the platform to decide, once the escalation window has opened."""
    rules.require_parties(state, actor)
    rules.require_status(state, _ESCALATABLE)
    rules.require_on_time(state, at, errors.InvalidTransition)
    rules.require_escalation_open(state, at)
    return [*_seller_response(state, actor),
            records.Escalated(EscalationTrigger.PARTY_REQUEST, False, note)]


def withdraw(state: DisputeState, reason: str, actor: Actor) -> list[Record]:
    """The buyer cancels the dispute before it is resolved; it can never be reopened."""
    rules.require_party(state, actor, Role.BUYER)
    rules.require_status(state, BEFORE_RESOLUTION)
    withdrawn = ([records.OfferWithdrawn(state.current_offer_id)]
                 if state.current_offer_id is not None else [])
    return [*withdrawn, records.Withdrawn(reason=reason)]


# What several decisions record ---------------------------------------------------------------

def _seller_response(state: DisputeState, actor: Actor) -> list[Record]:
    """The seller's first move of any kind is their response to the dispute."""
    first = actor.role == Role.SELLER and not state.seller_responded
    return [records.SellerResponded()] if first else []


def _offer_made(state: DisputeState, terms: OfferTerms, amount: Decimal | None, actor: Actor,
                at: datetime, policy: DisputePolicy, superseding: str | None) -> list[Record]:
    window = (policy.buyer_response_window if actor.role == Role.SELLER
              else policy.seller_response_window)
    made = records.OfferMade(
        offer_id=terms.offer_id, offer_type=RequestType(terms.offer_type), amount=amount,
        currency=state.currency, round_number=state.rounds + 1, made_by=actor.role,
        respond_by=at + window, note=terms.note)
    return [records.OfferSuperseded(superseding), made] if superseding is not None else [made]


def _carry_out(state: DisputeState, remedy: RequestType, refund: Decimal,
               resolved_by: ResolvedBy, at: datetime, policy: DisputePolicy) -> list[Record]:
    """After an offer or the claim is accepted: resolve, or start the return.

    A replacement needs nothing more here: the seller ships, the buyer confirms.
    """
    if remedy == RequestType.RETURN_AND_REFUND:
        return [records.ReturnRequested(refund_amount=refund, outcome=Outcome.AGREED,
                                        resolved_by=resolved_by,
                                        ship_by=at + policy.return_ship_by)]
    if remedy == RequestType.REPLACEMENT:
        return []
    return [records.Resolved(outcome=Outcome.AGREED, resolved_by=resolved_by,
                             remedy=Remedy(remedy), refund_amount=refund,
                             currency=state.currency, appeal_until=at + policy.appeal_window)]


# Checks ----------------------------------------------------------------------------------

def _check_offer(state: DisputeState, terms: OfferTerms, policy: DisputePolicy) -> Decimal | None:
    """The amount the offer stands for, once its id, amount and round are valid."""
    rules.require_new_id("offer", terms.offer_id, state.offers)
    rules.require_room("offers", len(state.offers), 1, policy.max_offers, errors.TooManyOffers)
    amount = rules.require_terms_amount(
        terms.offer_type, terms.amount, refundable=refundable_amount(state),
        currency=terms.currency, dispute_currency=state.currency)
    if state.rounds >= policy.max_offer_rounds:
        raise errors.MaxOfferRoundsReached(
            f"at most {policy.max_offer_rounds} offer rounds", rounds=state.rounds)
    return amount


def _check_negotiating(state: DisputeState, actor: Actor, at: datetime,
                       allowed: frozenset[Status] = NEGOTIATION_STATES) -> None:
    rules.require_parties(state, actor)
    rules.require_status(state, allowed, errors.NotOpenForNegotiation)
    rules.require_on_time(state, at, errors.NotOpenForNegotiation)


def _check_answerable(state: DisputeState, offer_id: str, actor: Actor) -> Offer:
    offer = current_offer(state)
    if offer is None or offer.offer_id != offer_id:
        raise errors.OfferNotCurrent(f"offer {offer_id} is not the current offer",
                                     offer_id=offer_id, current_offer_id=state.current_offer_id)
    if offer.made_by == actor.role:
        raise errors.NotYourTurn("only the other party may answer this offer",
                                 offer_id=offer_id)
    return offer


def _check_seller_answering_claim(state: DisputeState, actor: Actor, at: datetime) -> None:
    rules.require_party(state, actor, Role.SELLER)
    rules.require_status(state, NEGOTIATION_STATES, errors.NotOpenForNegotiation)
    rules.require_on_time(state, at, errors.NotOpenForNegotiation)
    rules.require_turn(state, actor)


def _claimed_refund(state: DisputeState) -> Decimal:
    if state.request == RequestType.REPLACEMENT:
        return Decimal("0")
    claimed = (refundable_amount(state) if state.request == RequestType.FULL_REFUND
               else state.request_amount)
    return rules.require_refund_amount(claimed, refundable=refundable_amount(state),
                                       currency=None, dispute_currency=state.currency)
