"""Steps that several commands share: each records one or more events, after the checks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, rules
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    Actor, EvidenceFile, OfferTerms, Outcome, RequestType, Role,
)


class DisputeSteps:
    """Mixed into `Dispute`: `self` is the aggregate."""

    def _check_offer(self, terms: OfferTerms, policy: DisputePolicy) -> Decimal | None:
        """The amount the offer stands for, once its id, amount and round are valid."""
        rules.require_new_id("offer", terms.offer_id, self.offers)
        rules.require_room("offers", len(self.offers), 1, policy.max_offers, errors.TooManyOffers)
        amount = rules.require_terms_amount(
            terms.offer_type, terms.amount, refundable=self.refundable_amount,
            currency=terms.currency, dispute_currency=self.currency)
        if self.rounds >= policy.max_offer_rounds:
            raise errors.MaxOfferRoundsReached(
                f"at most {policy.max_offer_rounds} offer rounds", rounds=self.rounds)
        return amount

    def _respond_as_seller(self, actor: Actor, at: datetime) -> None:
        if actor.role == Role.SELLER and not self.seller_responded:
            self._seller_responded(actor=actor.as_dict(), at=at)

    def _record_offer(self, terms: OfferTerms, amount: Decimal | None, actor: Actor,
                      at: datetime, policy: DisputePolicy) -> None:
        if self.current_offer_id is not None:
            self._offer_superseded(offer_id=self.current_offer_id, actor=actor.as_dict(), at=at)
        window = (policy.buyer_response_window if actor.role == Role.SELLER
                  else policy.seller_response_window)
        self._offer_made(
            offer_id=terms.offer_id, offer_type=str(terms.offer_type), amount=amount,
            currency=self.currency, round_number=self.rounds + 1, made_by=str(actor.role),
            respond_by=at + window, note=terms.note, actor=actor.as_dict(), at=at)

    def _carry_out_agreement(self, actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        """After an offer or the claim is accepted: resolve, or start the return.

        A replacement needs nothing more here: the seller ships, the buyer confirms.
        """
        remedy, amount = self.agreement["remedy"], self.agreement["refund_amount"]
        resolved_by = self.agreement["resolved_by"]
        if remedy == RequestType.RETURN_AND_REFUND:
            self._request_return(amount, Outcome.AGREED, resolved_by, actor, at, policy)
        elif remedy != RequestType.REPLACEMENT:
            self._resolve(outcome=Outcome.AGREED, resolved_by=resolved_by, remedy=remedy,
                          refund_amount=amount, actor=actor, at=at, policy=policy)

    def _request_return(self, refund_amount: Decimal, outcome: str, resolved_by: str,
                        actor: Actor, at: datetime, policy: DisputePolicy) -> None:
        self._return_requested(
            refund_amount=refund_amount, outcome=str(outcome), resolved_by=str(resolved_by),
            ship_by=at + policy.return_ship_by, actor=actor.as_dict(), at=at)

    def _resolve(self, *, outcome: str, resolved_by: str, remedy: str, refund_amount: Decimal,
                 actor: Actor, at: datetime, policy: DisputePolicy, note: str = "") -> None:
        self._resolved(
            outcome=str(outcome), resolved_by=str(resolved_by), remedy=str(remedy),
            refund_amount=refund_amount, currency=self.currency,
            appeal_until=at + policy.appeal_window, note=note, actor=actor.as_dict(), at=at)

    def _escalate(self, trigger: str, actor: Actor, at: datetime, *, automatic: bool,
                  note: str = "") -> None:
        self._escalated(trigger=str(trigger), automatic=automatic, note=note,
                        actor=actor.as_dict(), at=at)

    def _add_evidence_files(self, files: Iterable[EvidenceFile], actor: Actor,
                            at: datetime) -> None:
        for file in files:
            self._evidence_added(
                evidence_id=file.evidence_id, sha256=file.sha256,
                content_type=file.content_type, size=file.size, filename=file.filename,
                description=file.description, actor=actor.as_dict(), at=at)

    def _capped(self, amount: Decimal) -> Decimal:
        """Amounts agreed earlier, never above what can still be refunded."""
        return max(min(amount, self.refundable_amount), Decimal("0"))
