"""Carrying out an agreement or decision: returns and replacements.

Each function is the decision of the `Dispute` command of the same name (see negotiation).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, records, rules
from services.dispute.domain.conversation import evidence_added
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.records import Record
from services.dispute.domain.state import Agreement, DisputeState, ReturnShipment, capped
from services.dispute.domain.values import (
    Actor, EscalationTrigger, EvidenceFile, Outcome, Remedy, ReturnCondition, ReturnStatus, Role,
    Status,
)


def ship_return(state: DisputeState, carrier: str, tracking_number: str, actor: Actor,
                at: datetime, policy: DisputePolicy) -> list[Record]:
    """The buyer sends the item back, with tracking, before the ship-by date."""
    rules.require_party(state, actor, Role.BUYER)
    if state.return_shipment and state.return_shipment.status == ReturnStatus.MISSED:
        raise errors.ReturnWindowClosed("the return was not shipped in time")
    rules.require_status(state, {Status.AWAITING_RETURN_SHIPMENT})
    rules.require_on_time(state, at, errors.ReturnWindowClosed)
    _require_tracking(carrier, tracking_number)
    acknowledge_by = at + policy.return_transit_allowance + policy.return_acknowledgement_window
    return [records.ReturnShipped(carrier=carrier, tracking_number=tracking_number,
                                  acknowledge_by=acknowledge_by)]


def acknowledge_return(state: DisputeState, condition: str, evidence: Sequence[EvidenceFile],
                       evidence_ids: Sequence[str], note: str, actor: Actor, at: datetime,
                       policy: DisputePolicy) -> list[Record]:
    """The seller confirms the returned item: refund, or escalate a problem with evidence."""
    rules.require_party(state, actor, Role.SELLER)
    rules.require_status(state, {Status.RETURN_IN_TRANSIT})
    rules.require_on_time(state, at, errors.AlreadyResolved)
    if condition not in set(ReturnCondition):
        raise errors.ValidationFailed(f"unknown condition {condition}", field="condition")
    problem = condition != ReturnCondition.ITEM_RECEIVED
    if problem and not evidence and not evidence_ids:
        raise errors.ValidationFailed("a problem with the return needs evidence")
    rules.require_own_evidence(state, evidence_ids, actor)
    rules.require_evidence_files(evidence, state.evidence)
    rules.require_evidence_room(state, len(evidence), policy)
    received = [records.ReturnReceived(ReturnCondition(condition)),
                *evidence_added(state, evidence, actor)]
    if problem:
        return [*received, records.Escalated(EscalationTrigger.RETURN_CONDITION_DISPUTED, True,
                                             note)]
    return [*received, _refund_return(state, _agreed_return(state), at, policy)]


def ship_replacement(state: DisputeState, carrier: str, tracking_number: str,
                     actor: Actor) -> list[Record]:
    """The seller sends the agreed replacement."""
    rules.require_party(state, actor, Role.SELLER)
    rules.require_status(state, {Status.AWAITING_REPLACEMENT})
    rules.require_turn(state, actor)
    _require_tracking(carrier, tracking_number)
    return [records.ReplacementShipped(carrier=carrier, tracking_number=tracking_number)]


def confirm_replacement(state: DisputeState, actor: Actor, at: datetime,
                        policy: DisputePolicy) -> list[Record]:
    """The buyer confirms the replacement arrived: the dispute is resolved as agreed."""
    rules.require_party(state, actor, Role.BUYER)
    rules.require_status(state, {Status.AWAITING_REPLACEMENT})
    rules.require_turn(state, actor)
    return [records.ReplacementReceived(),
            records.Resolved(outcome=Outcome.AGREED, resolved_by=_agreement(state).resolved_by,
                             remedy=Remedy.REPLACEMENT, refund_amount=Decimal("0"),
                             currency=state.currency, appeal_until=at + policy.appeal_window)]


def _refund_return(state: DisputeState, agreed: ReturnShipment, at: datetime,
                   policy: DisputePolicy) -> records.Resolved:
    return records.Resolved(outcome=agreed.outcome, resolved_by=agreed.resolved_by,
                            remedy=Remedy.RETURN_AND_REFUND,
                            refund_amount=capped(state, agreed.refund_amount),
                            currency=state.currency, appeal_until=at + policy.appeal_window)


def _agreed_return(state: DisputeState) -> ReturnShipment:
    if state.return_shipment is None:  # a return in transit was always requested first
        raise errors.InvalidTransition("no return was requested")
    return state.return_shipment


def _agreement(state: DisputeState) -> Agreement:
    if state.agreement is None:  # awaiting a replacement always follows an agreement
        raise errors.InvalidTransition("nothing was agreed")
    return state.agreement


def _require_tracking(carrier: str, tracking_number: str) -> None:
    rules.require_text("carrier", carrier, max_length=100)
    rules.require_text("tracking_number", tracking_number, max_length=100)
