"""Events in the shape the walking skeleton (commit 73de427) stored them, for upcasting tests.

`SkeletonDispute` repeats that commit's `Dispute.Opened` signature: no escalation window, and
only the seller's deadline. `store_skeleton_dispute` maps one through the application's own
mapper and records it under the topic the skeleton used, which is today's `Dispute.Opened`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from services.dispute.domain import Dispute, former_dispute_id


class SkeletonDispute(Aggregate):
    @staticmethod
    def create_id(order_id: str, item_id: str):
        return former_dispute_id(order_id, item_id)

    @event("Opened")
    def __init__(self, order_id: str, item_id: str, buyer_id: str, seller_id: str, reason: str,
                 request: str, request_amount: Decimal | None, description: str,
                 paid_amount: Decimal, currency: str, actor: dict[str, Any], at: datetime,
                 deadlines: dict[str, datetime]) -> None:
        self.order_id = order_id


def store_skeleton_dispute(app: Application, at: datetime, order_id: str = "O-1") -> Dispute:
    """Record a skeleton-era DisputeOpened (B-1 against S-1, item I-1, 100.00 USD)."""
    old = SkeletonDispute(
        order_id=order_id, item_id="I-1", buyer_id="B-1", seller_id="S-1", reason="DAMAGED",
        request="FULL_REFUND", request_amount=None, description="cracked",
        paid_amount=Decimal("100.00"), currency="USD", actor={"role": "buyer", "id": "B-1"},
        at=at, deadlines={"SELLER_RESPONSE": at + timedelta(days=5)})
    [opened] = old.collect_events()
    object.__setattr__(opened, "originator_topic", get_topic(Dispute))
    stored = replace(app.mapper.to_stored_event(opened), topic=get_topic(Dispute.Opened))
    app.recorder.insert_events([stored])
    return old
