"""Whether a buyer may open a dispute on an order's item now, and if not why: what the
"my orders" page shows beside each item (the opening itself still decides, opening.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.dispute.domain import errors
from services.dispute.domain.opening import check_can_open
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import Actor, Reason


@dataclass(frozen=True)
class Eligibility:
    reasons: tuple[Reason, ...]
    """The reasons a dispute may be opened for now (empty: none)."""
    refused: dict[Reason, str]
    """Why each other reason is refused now (an error code)."""


def eligibility(order: OrderFacts, item_id: str, actor: Actor, at: datetime,
                policy: DisputePolicy) -> Eligibility:
    allowed, refused = [], {}
    for reason in Reason:
        try:
            check_can_open(order, item_id, actor, reason, at, policy, ())
        except errors.DomainError as error:
            refused[reason] = error.code
        else:
            allowed.append(reason)
    return Eligibility(tuple(allowed), refused)
