"""Pure: who is told what about a dispute event. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parties:
    buyer_id: str
    seller_id: str


@dataclass(frozen=True)
class Notice:
    recipient: str
    recipient_role: str
    subject: str
    body: str


def notices_for(event_type: str, payload: dict[str, Any], dispute_id: str,
                parties: Parties | None) -> list[Notice]:
    if event_type == "DisputeOpened":
        return _opened(payload, dispute_id)
    return []


def parties_from(event_type: str, payload: dict[str, Any]) -> Parties | None:
    if event_type == "DisputeOpened":
        return Parties(buyer_id=payload["buyer_id"], seller_id=payload["seller_id"])
    return None


def _opened(payload: dict[str, Any], dispute_id: str) -> list[Notice]:
    due = (payload.get("deadlines") or {}).get("SELLER_RESPONSE", "the deadline")
    reason = payload["reason"].replace("_", " ").lower()
    return [
        Notice(payload["seller_id"], "seller",
               f"A buyer opened a dispute on order {payload['order_id']}",
               f"The buyer reports: {reason} (item {payload['item_id']}) and asks for "
               f"{payload['request'].replace('_', ' ').lower()}. Respond by {due} "
               f"or the dispute is resolved in the buyer's favour. Dispute {dispute_id}."),
        Notice(payload["buyer_id"], "buyer", f"Your dispute on order {payload['order_id']} is open",
               f"We told the seller. They have until {due} to respond. Dispute {dispute_id}."),
    ]
