"""The platform's part: evidence requests, decisions, appeals and closing.

Each function is the decision of the `Dispute` command of the same name (see negotiation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, records, rules
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.records import Record
from services.dispute.domain.state import Appeal, DisputeState, Resolution, refundable_amount
from services.dispute.domain.values import (
    NO_REMEDY, Actor, AppealOutcome, CloseReason, Deadline, Outcome, Remedy, ResolvedBy, Role,
    Status,
)

_DECISIONS = frozenset({Outcome.BUYER_FAVOUR, Outcome.SELLER_FAVOUR, Outcome.PARTIAL})


def request_evidence(state: DisputeState, request_id: str, from_party: str, note: str,
                     actor: Actor, at: datetime, policy: DisputePolicy) -> list[Record]:
    """The operator asks one party for evidence, due within the evidence window."""
    rules.require_party(state, actor, Role.OPERATOR)
    rules.require_status(state, {Status.UNDER_REVIEW, Status.APPEALED})
    if from_party not in (Role.BUYER, Role.SELLER):
        raise errors.ValidationFailed("evidence comes from the buyer or the seller",
                                      field="from_party")
    if Deadline.EVIDENCE_REQUEST in state.deadlines:
        raise errors.InvalidTransition("an evidence request is already open")
    known = [state.evidence_request.request_id] if state.evidence_request else []
    rules.require_new_id("request", request_id, known)
    return [records.EvidenceRequested(request_id=request_id, from_party=Role(from_party),
                                      note=note, due=at + policy.evidence_request_window)]


def decide(state: DisputeState, outcome: str, refund_amount: Decimal | None,
           currency: str | None, return_required: bool, note: str, actor: Actor,
           at: datetime, policy: DisputePolicy) -> list[Record]:
    """The operator decides an escalated dispute, possibly ordering a return first."""
    rules.require_party(state, actor, Role.OPERATOR)
    rules.require_status(state, {Status.UNDER_REVIEW})
    decided, refund = _check_decision(state, outcome, refund_amount, currency, return_required)
    if return_required:
        return [records.ReturnRequested(refund_amount=refund, outcome=decided,
                                        resolved_by=ResolvedBy.PLATFORM_DECISION,
                                        ship_by=at + policy.return_ship_by)]
    return [records.Resolved(outcome=decided, resolved_by=ResolvedBy.PLATFORM_DECISION,
                             remedy=_remedy_for(state, refund), refund_amount=refund,
                             currency=state.currency, appeal_until=at + policy.appeal_window,
                             note=note)]


def appeal(state: DisputeState, appeal_id: str, evidence_ids: Sequence[str], reason: str,
           actor: Actor, at: datetime, policy: DisputePolicy) -> list[Record]:
    """The losing party asks for a second look, bringing evidence added since resolution."""
    rules.require_parties(state, actor)
    resolution = _check_appeal_open(state, at, policy)
    if actor.role not in rules.losing_parties(resolution.outcome):
        raise errors.OnlyLosingPartyMayAppeal("only the losing party may appeal",
                                              outcome=str(resolution.outcome))
    if len(state.appeals) >= policy.max_appeals:
        raise errors.MaxAppealsReached(f"at most {policy.max_appeals} appeals")
    _check_new_evidence(state, evidence_ids, actor)
    rules.require_new_id("appeal", appeal_id, [a.appeal_id for a in state.appeals])
    return [records.Appealed(appeal_id=appeal_id, evidence_ids=tuple(evidence_ids),
                             reason=reason)]


def decide_appeal(state: DisputeState, appeal_id: str, outcome: str,
                  extra_refund: Decimal | None, currency: str | None, note: str,
                  actor: Actor) -> list[Record]:
    """The operator decides the appeal; the dispute then closes for good."""
    rules.require_party(state, actor, Role.OPERATOR)
    rules.require_status(state, {Status.APPEALED}, errors.InvalidTransition)
    if appeal_id != _under_review(state).appeal_id:
        raise errors.ValidationFailed(f"appeal {appeal_id} is not under review",
                                      field="appeal_id")
    decided = _check_appeal_outcome(state, outcome, extra_refund, currency)
    return [records.AppealDecided(appeal_id=appeal_id, outcome=decided,
                                  extra_refund=extra_refund, currency=state.currency,
                                  note=note),
            records.Closed(CloseReason.APPEAL_DECIDED)]


def close(state: DisputeState, actor: Actor) -> list[Record]:
    """The operator closes a resolved dispute before its appeal window lapses."""
    rules.require_party(state, actor, Role.OPERATOR)
    rules.require_status(state, {Status.RESOLVED}, errors.InvalidTransition)
    return [records.Closed(CloseReason.CLOSED_BY_OPERATOR)]


# Checks ------------------------------------------------------------------------------

def _check_decision(state: DisputeState, outcome: str, refund_amount: Decimal | None,
                    currency: str | None, return_required: bool) -> tuple[Outcome, Decimal]:
    if outcome not in _DECISIONS:
        raise errors.ValidationFailed(f"unknown outcome {outcome}", field="outcome")
    if outcome != Outcome.SELLER_FAVOUR:
        return Outcome(outcome), rules.require_refund_amount(
            refund_amount, refundable=refundable_amount(state), currency=currency,
            dispute_currency=state.currency)
    rules.require_currency(currency, state.currency)
    if refund_amount or return_required:
        raise errors.ValidationFailed("a decision for the seller refunds nothing",
                                      field="refund_amount")
    return Outcome.SELLER_FAVOUR, Decimal("0")


def _remedy_for(state: DisputeState, refund: Decimal) -> Remedy:
    if refund == 0:
        return NO_REMEDY
    full = refund == refundable_amount(state)
    return Remedy.FULL_REFUND if full else Remedy.PARTIAL_REFUND


def _check_appeal_open(state: DisputeState, at: datetime, policy: DisputePolicy) -> Resolution:
    if state.status == Status.CLOSED and len(state.appeals) >= policy.max_appeals:
        raise errors.MaxAppealsReached(f"at most {policy.max_appeals} appeals")
    if state.status == Status.CLOSED:
        raise errors.AppealWindowClosed("the appeal window has closed")
    rules.require_status(state, {Status.RESOLVED}, errors.InvalidTransition)
    rules.require_on_time(state, at, errors.AppealWindowClosed)
    if state.resolution is None:  # a resolved dispute always has its resolution
        raise errors.InvalidTransition("nothing was resolved")
    return state.resolution


def _check_new_evidence(state: DisputeState, evidence_ids: Sequence[str], actor: Actor) -> None:
    fresh = [state.evidence.get(evidence_id) for evidence_id in evidence_ids]
    if not fresh or not all(e and e.after_resolution and e.added_by == actor.role
                            for e in fresh):
        raise errors.AppealRequiresNewEvidence(
            "an appeal needs evidence the appellant added after the resolution")


def _under_review(state: DisputeState) -> Appeal:
    if not state.appeals:  # an appealed dispute always has its appeal
        raise errors.InvalidTransition("nothing was appealed")
    return state.appeals[-1]


def _check_appeal_outcome(state: DisputeState, outcome: str, extra_refund: Decimal | None,
                          currency: str | None) -> AppealOutcome:
    if outcome not in set(AppealOutcome):
        raise errors.ValidationFailed(f"unknown appeal outcome {outcome}", field="outcome")
    if extra_refund is None:
        rules.require_currency(currency, state.currency)
        return AppealOutcome(outcome)
    if outcome == AppealOutcome.UPHELD:
        raise errors.ValidationFailed("an upheld resolution awards nothing extra",
                                      field="extra_refund")
    rules.require_refund_amount(extra_refund, refundable=refundable_amount(state),
                                currency=currency, dispute_currency=state.currency)
    return AppealOutcome(outcome)
