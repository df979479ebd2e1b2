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
