"""The platform's part: evidence requests, decisions, appeals and closing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, rules
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    NO_REMEDY, Actor, AppealOutcome, CloseReason, Deadline, Outcome, RequestType, ResolvedBy,
    Role, Status,
)

_DECISIONS = frozenset({Outcome.BUYER_FAVOUR, Outcome.SELLER_FAVOUR, Outcome.PARTIAL})


class ReviewCommands:
    """Mixed into `Dispute`: `self` is the aggregate."""

    def request_evidence(self, *, request_id: str, from_party: str, note: str = "",
                         actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        """The operator asks one party for evidence, due within the evidence window."""
        rules.require_party(self, actor, Role.OPERATOR)
        rules.require_status(self, {Status.UNDER_REVIEW, Status.APPEALED})
        if from_party not in (Role.BUYER, Role.SELLER):
            raise errors.ValidationFailed("evidence comes from the buyer or the seller",
                                          field="from_party")
        if Deadline.EVIDENCE_REQUEST in self.deadlines:
            raise errors.InvalidTransition("an evidence request is already open")
        rules.require_new_id("request", request_id, _request_ids(self))
        self._evidence_requested(request_id=request_id, from_party=str(from_party), note=note,
                                 due=at + policy.evidence_request_window,
                                 actor=actor.as_dict(), at=at)

    def decide(self, *, outcome: str, refund_amount: Decimal | None = None,
               currency: str | None = None, return_required: bool = False, note: str = "",
               actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        """The operator decides an escalated dispute, possibly ordering a return first."""
        rules.require_party(self, actor, Role.OPERATOR)
        rules.require_status(self, {Status.UNDER_REVIEW})
        refund = self._check_decision(outcome, refund_amount, currency, return_required)
        if return_required:
            self._request_return(refund, outcome, ResolvedBy.PLATFORM_DECISION, actor, at, policy)
            return
        self._resolve(outcome=outcome, resolved_by=ResolvedBy.PLATFORM_DECISION,
                      remedy=self._remedy_for(refund), refund_amount=refund, actor=actor,
                      at=at, policy=policy, note=note)

    def appeal(self, *, appeal_id: str, evidence_ids: Sequence[str], reason: str = "",
               actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        """The losing party asks for a second look, bringing evidence added since resolution."""
        rules.require_parties(self, actor)
        self._check_appeal_open(at, policy)
        if actor.role not in rules.losing_parties(self.resolution["outcome"]):
            raise errors.OnlyLosingPartyMayAppeal("only the losing party may appeal",
                                                  outcome=self.resolution["outcome"])
        if len(self.appeals) >= policy.max_appeals:
            raise errors.MaxAppealsReached(f"at most {policy.max_appeals} appeals")
        self._check_new_evidence(evidence_ids, actor)
        rules.require_new_id("appeal", appeal_id, [a["appeal_id"] for a in self.appeals])
        self._appealed(appeal_id=appeal_id, evidence_ids=list(evidence_ids), reason=reason,
                       actor=actor.as_dict(), at=at)

    def decide_appeal(self, *, appeal_id: str, outcome: str, extra_refund: Decimal | None = None,
                      currency: str | None = None, note: str = "", actor: Actor,
                      at: datetime) -> None:
        """The operator decides the appeal; the dispute then closes for good."""
        rules.require_party(self, actor, Role.OPERATOR)
        rules.require_status(self, {Status.APPEALED}, errors.InvalidTransition)
        if appeal_id != self.appeals[-1]["appeal_id"]:
            raise errors.ValidationFailed(f"appeal {appeal_id} is not under review",
                                          field="appeal_id")
        self._check_appeal_outcome(outcome, extra_refund, currency)
        self._appeal_decided(appeal_id=appeal_id, outcome=outcome, extra_refund=extra_refund,
                             currency=self.currency, note=note, actor=actor.as_dict(), at=at)
        self._closed(reason=CloseReason.APPEAL_DECIDED.value, actor=actor.as_dict(), at=at)

    def close(self, *, actor: Actor, at: datetime) -> None:
        """The operator closes a resolved dispute before its appeal window lapses."""
        rules.require_party(self, actor, Role.OPERATOR)
        rules.require_status(self, {Status.RESOLVED}, errors.InvalidTransition)
        self._closed(reason=CloseReason.CLOSED_BY_OPERATOR.value, actor=actor.as_dict(), at=at)

    # Checks ------------------------------------------------------------------------------

    def _check_decision(self, outcome: str, refund_amount: Decimal | None, currency: str | None,
                        return_required: bool) -> Decimal:
        if outcome not in _DECISIONS:
            raise errors.ValidationFailed(f"unknown outcome {outcome}", field="outcome")
        if outcome != Outcome.SELLER_FAVOUR:
            return rules.require_refund_amount(refund_amount, refundable=self.refundable_amount,
                                               currency=currency, dispute_currency=self.currency)
        rules.require_currency(currency, self.currency)
        if refund_amount or return_required:
            raise errors.ValidationFailed("a decision for the seller refunds nothing",
                                          field="refund_amount")
        return Decimal("0")

    def _remedy_for(self, refund: Decimal) -> str:
        if refund == 0:
            return NO_REMEDY
        full = refund == self.refundable_amount
        return (RequestType.FULL_REFUND if full else RequestType.PARTIAL_REFUND).value

    def _check_appeal_open(self, at: datetime, policy: DisputePolicy) -> None:
        if self.status == Status.CLOSED and len(self.appeals) >= policy.max_appeals:
            raise errors.MaxAppealsReached(f"at most {policy.max_appeals} appeals")
        if self.status == Status.CLOSED:
            raise errors.AppealWindowClosed("the appeal window has closed")
        rules.require_status(self, {Status.RESOLVED}, errors.InvalidTransition)
        rules.require_on_time(self, at, errors.AppealWindowClosed)

    def _check_new_evidence(self, evidence_ids: Sequence[str], actor: Actor) -> None:
        fresh = [self.evidence.get(evidence_id) for evidence_id in evidence_ids]
        if not fresh or not all(e and e["after_resolution"] and e["added_by"] == actor.role
                                for e in fresh):
            raise errors.AppealRequiresNewEvidence(
                "an appeal needs evidence the appellant added after the resolution")

    def _check_appeal_outcome(self, outcome: str, extra_refund: Decimal | None,
                              currency: str | None) -> None:
        if outcome not in set(AppealOutcome):
            raise errors.ValidationFailed(f"unknown appeal outcome {outcome}", field="outcome")
        if extra_refund is None:
            rules.require_currency(currency, self.currency)
            return
        if outcome == AppealOutcome.UPHELD:
            raise errors.ValidationFailed("an upheld resolution awards nothing extra",
                                          field="extra_refund")
        rules.require_refund_amount(extra_refund, refundable=self.refundable_amount,
                                    currency=currency, dispute_currency=self.currency)


def _request_ids(dispute: object) -> list[str]:
    request = dispute.evidence_request
    return [request["request_id"]] if request else []
