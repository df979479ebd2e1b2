"""Dispute events as the relay would put them on `disputes.events`, for consumer tests."""

from __future__ import annotations

from uuid import uuid4

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from tests.support.orders import NOW

OPENED = {"order_id": "O-1", "item_id": "I-1", "buyer_id": "B-1", "seller_id": "S-1",
          "reason": "DAMAGED", "request": "FULL_REFUND", "request_amount": "100.00",
          "description": "cracked", "paid_amount": "100.00", "currency": "USD",
          "deadlines": {"SELLER_RESPONSE": "2026-03-15T12:00:00Z"},
          "escalation_allowed_from": "2026-03-13T12:00:00Z"}


def opened(buyer: str = "B-1", seller: str = "S-1") -> EventEnvelope:
    """A DisputeOpened of a new dispute between these parties."""
    dispute_id = uuid4()
    return EventEnvelope(
        event_id=event_id_for(dispute_id, 1), event_type="DisputeOpened", schema_version=1,
        dispute_id=dispute_id, dispute_version=1, occurred_at=NOW, correlation_id="c-1",
        actor=ActorRef(role="buyer", id=buyer),
        payload={**OPENED, "buyer_id": buyer, "seller_id": seller})


def opened_payload(**changes) -> dict:
    """A whole DisputeOpened payload, as its contract requires it."""
    return {**OPENED, **changes}


def resolved_payload(amount: str, currency: str = "USD", **changes) -> dict:
    """A whole Resolved payload returning `amount` to the buyer."""
    return {"outcome": "AGREED", "resolved_by": "AGREEMENT", "remedy": "PARTIAL_REFUND",
            "refund_amount": amount, "currency": currency,
            "appeal_until": "2026-03-24T12:00:00Z", "note": "", **changes}


def appeal_decided_payload(award: str, currency: str = "USD", **changes) -> dict:
    """A whole AppealDecided payload awarding `award` on top of the resolution."""
    return {"appeal_id": "A-1", "outcome": "OVERTURNED", "refund_amount": award,
            "currency": currency, "note": "", **changes}


def decision_payload(event_type: str, amount: str, currency: str = "USD", **changes) -> dict:
    """The payload of a paying event (Resolved or AppealDecided)."""
    build = {"Resolved": resolved_payload, "AppealDecided": appeal_decided_payload}[event_type]
    return build(amount, currency, **changes)


def decision(event_type: str, amount: str, currency: str = "USD"):
    """A paying event's payload read through its contract, as the refund policy takes it."""
    from contracts.disputes import REGISTRY
    return REGISTRY[event_type][1].model_validate(decision_payload(event_type, amount, currency))
