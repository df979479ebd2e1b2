"""Carrying out an agreement or decision: returns and replacements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, rules
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    Actor, EscalationTrigger, EvidenceFile, Outcome, RequestType, ReturnCondition, Role, Status,
)


class FulfilmentCommands:
    """Mixed into `Dispute`: `self` is the aggregate."""

    def ship_return(self, *, carrier: str, tracking_number: str, actor: Actor, at: datetime,
                    policy: DisputePolicy) -> None:
        """The buyer sends the item back, with tracking, before the ship-by date."""
        rules.require_party(self, actor, Role.BUYER)
        if self.return_shipment and self.return_shipment["status"] == "MISSED":
            raise errors.ReturnWindowClosed("the return was not shipped in time")
        rules.require_status(self, {Status.AWAITING_RETURN_SHIPMENT})
        rules.require_on_time(self, at, errors.ReturnWindowClosed)
        _require_tracking(carrier, tracking_number)
        acknowledge_by = at + policy.return_transit_allowance + policy.return_acknowledgement_window
        self._return_shipped(carrier=carrier, tracking_number=tracking_number,
                             acknowledge_by=acknowledge_by, actor=actor.as_dict(), at=at)

    def acknowledge_return(self, *, condition: str, evidence: Sequence[EvidenceFile] = (),
                           evidence_ids: Sequence[str] = (), note: str = "", actor: Actor,
                           at: datetime, policy: DisputePolicy) -> None:
        """The seller confirms the returned item: refund, or escalate a problem with evidence."""
        rules.require_party(self, actor, Role.SELLER)
        rules.require_status(self, {Status.RETURN_IN_TRANSIT})
        rules.require_on_time(self, at, errors.AlreadyResolved)
        if condition not in set(ReturnCondition):
            raise errors.ValidationFailed(f"unknown condition {condition}", field="condition")
        problem = condition != ReturnCondition.ITEM_RECEIVED
        if problem and not evidence and not evidence_ids:
            raise errors.ValidationFailed("a problem with the return needs evidence")
        rules.require_own_evidence(self, evidence_ids, actor)
        rules.require_evidence_files(evidence, self.evidence)
        rules.require_evidence_room(self, len(evidence), policy)
        self._return_received(condition=condition, actor=actor.as_dict(), at=at)
        self._add_evidence_files(evidence, actor, at)
        if problem:
            self._escalate(EscalationTrigger.RETURN_CONDITION_DISPUTED, actor, at,
                           automatic=True, note=note)
        else:
            self._refund_return(actor, at, policy)

    def ship_replacement(self, *, carrier: str, tracking_number: str, actor: Actor,
                         at: datetime) -> None:
        """The seller sends the agreed replacement."""
        rules.require_party(self, actor, Role.SELLER)
        rules.require_status(self, {Status.AWAITING_REPLACEMENT})
        rules.require_turn(self, actor)
        _require_tracking(carrier, tracking_number)
        self._replacement_shipped(carrier=carrier, tracking_number=tracking_number,
                                  actor=actor.as_dict(), at=at)

    def confirm_replacement(self, *, actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        """The buyer confirms the replacement arrived: the dispute is resolved as agreed."""
        rules.require_party(self, actor, Role.BUYER)
        rules.require_status(self, {Status.AWAITING_REPLACEMENT})
        rules.require_turn(self, actor)
        self._replacement_received(actor=actor.as_dict(), at=at)
        self._resolve(outcome=Outcome.AGREED, resolved_by=self.agreement["resolved_by"],
                      remedy=RequestType.REPLACEMENT, refund_amount=Decimal("0"),
                      actor=actor, at=at, policy=policy)

    def _refund_return(self, actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        agreed = self.return_shipment
        self._resolve(outcome=agreed["outcome"], resolved_by=agreed["resolved_by"],
                      remedy=RequestType.RETURN_AND_REFUND,
                      refund_amount=self._capped(agreed["refund_amount"]),
                      actor=actor, at=at, policy=policy)


def _require_tracking(carrier: str, tracking_number: str) -> None:
    rules.require_text("carrier", carrier, max_length=100)
    rules.require_text("tracking_number", tracking_number, max_length=100)
