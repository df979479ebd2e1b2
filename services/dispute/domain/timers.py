"""Deadlines: what happens when an obligation is still unmet at its due time.

Timers are commands like any other: they act as the deadline worker, at the due time.
A deadline that was met has left `deadlines`, so a late timer finds nothing to do.
`Dispute.expire_due_deadlines` records `on_deadline` for each due deadline, earliest first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import records
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.records import Record
from services.dispute.domain.state import DisputeState, capped, current_offer, refundable_amount
from services.dispute.domain.values import (
    NO_REMEDY, CloseReason, Deadline, EscalationTrigger, Outcome, Remedy, RequestType,
    ResolvedBy, Role,
)

_ORDER = list(Deadline)


def earliest_deadline(state: DisputeState) -> tuple[Deadline, datetime] | None:
    """The next deadline to fire: the earliest, ties in the order of `Deadline`."""
    if not state.deadlines:
        return None
    return min(state.deadlines.items(), key=lambda item: (item[1], _ORDER.index(item[0])))


def on_deadline(state: DisputeState, deadline: Deadline, due: datetime,
                policy: DisputePolicy) -> list[Record]:
    """What the passing of `deadline` at `due` records."""
    return _CONSEQUENCES[deadline](state, due, policy)


def _on_seller_response_due(state: DisputeState, due: datetime,
                            policy: DisputePolicy) -> list[Record]:
    remedy, refund = _buyers_latest_ask(state)
    return [records.DeadlineMissed(Deadline.SELLER_RESPONSE, due),
            _resolved(state, Outcome.BUYER_FAVOUR, ResolvedBy.TIMEOUT_SELLER, remedy, refund,
                      due, policy)]


def _on_buyer_response_due(state: DisputeState, due: datetime,
                           policy: DisputePolicy) -> list[Record]:
    missed: list[Record] = [records.DeadlineMissed(Deadline.BUYER_RESPONSE, due)]
    if state.current_offer_id is not None:
        missed.append(records.OfferExpired(state.current_offer_id))
    if policy.buyer_timeout_escalates:
        return [*missed, records.Escalated(EscalationTrigger.BUYER_RESPONSE_TIMEOUT, True)]
    return [*missed, _seller_wins_on_timeout(state, due, policy)]


def _on_negotiation_max_due(state: DisputeState, due: datetime,
                            policy: DisputePolicy) -> list[Record]:
    return [records.Escalated(EscalationTrigger.NEGOTIATION_WINDOW_ELAPSED, True)]


def _on_return_shipment_due(state: DisputeState, due: datetime,
                            policy: DisputePolicy) -> list[Record]:
    return [records.DeadlineMissed(Deadline.RETURN_SHIPMENT, due),
            _seller_wins_on_timeout(state, due, policy)]


def _on_return_acknowledgement_due(state: DisputeState, due: datetime,
                                   policy: DisputePolicy) -> list[Record]:
    agreed = state.return_shipment.refund_amount if state.return_shipment else Decimal("0")
    return [records.DeadlineMissed(Deadline.RETURN_ACKNOWLEDGEMENT, due),
            _resolved(state, Outcome.BUYER_FAVOUR, ResolvedBy.TIMEOUT_SELLER,
                      Remedy.RETURN_AND_REFUND, capped(state, agreed), due, policy)]


def _on_evidence_request_due(state: DisputeState, due: datetime,
                             policy: DisputePolicy) -> list[Record]:
    return [records.DeadlineMissed(Deadline.EVIDENCE_REQUEST, due)]


def _on_appeal_window_due(state: DisputeState, due: datetime,
                          policy: DisputePolicy) -> list[Record]:
    return [records.Closed(CloseReason.APPEAL_WINDOW_ELAPSED)]


def _seller_wins_on_timeout(state: DisputeState, due: datetime,
                            policy: DisputePolicy) -> records.Resolved:
    return _resolved(state, Outcome.SELLER_FAVOUR, ResolvedBy.TIMEOUT_BUYER, NO_REMEDY,
                     Decimal("0"), due, policy)


def _resolved(state: DisputeState, outcome: Outcome, resolved_by: ResolvedBy, remedy: Remedy,
              refund: Decimal, due: datetime, policy: DisputePolicy) -> records.Resolved:
    return records.Resolved(outcome=outcome, resolved_by=resolved_by, remedy=remedy,
                            refund_amount=refund, currency=state.currency,
                            appeal_until=due + policy.appeal_window)


def _buyers_latest_ask(state: DisputeState) -> tuple[Remedy, Decimal]:
    """The buyer's open counter-offer if any, else the request they opened with.

    An unanswered replacement cannot be shipped for the seller, so it becomes a refund.
    """
    offer = current_offer(state)
    if offer is not None and offer.made_by == Role.BUYER:
        remedy, amount = offer.offer_type, offer.amount
    else:
        remedy, amount = state.request, state.request_amount
    if remedy in (RequestType.REPLACEMENT, RequestType.FULL_REFUND):
        return Remedy.FULL_REFUND, refundable_amount(state)
    return Remedy(remedy), capped(state, amount or Decimal("0"))


_Consequence = Callable[[DisputeState, datetime, DisputePolicy], list[Record]]
_CONSEQUENCES: dict[Deadline, _Consequence] = {
    Deadline.SELLER_RESPONSE: _on_seller_response_due,
    Deadline.BUYER_RESPONSE: _on_buyer_response_due,
    Deadline.NEGOTIATION_MAX: _on_negotiation_max_due,
    Deadline.RETURN_SHIPMENT: _on_return_shipment_due,
    Deadline.RETURN_ACKNOWLEDGEMENT: _on_return_acknowledgement_due,
    Deadline.EVIDENCE_REQUEST: _on_evidence_request_due,
    Deadline.APPEAL_WINDOW: _on_appeal_window_due,
}
