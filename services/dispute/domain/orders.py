"""What the dispute domain needs to know of an order (learned from `orders.events`)."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    buyer_id: str
    seller_id: str
    currency: str
    items: dict[str, Decimal]
    total_amount: Decimal
    placed_at: datetime
    promised_delivery_date: datetime
    delivered_at: datetime | None = None
    refunded_outside_disputes: Decimal = field(default=Decimal("0"))

    def item_amount(self, item_id: str) -> Decimal | None:
        return self.items.get(item_id)


PLACED_FACTS = ("buyer_id", "seller_id", "currency", "items", "total_amount", "placed_at",
                "promised_delivery_date")


def contradictions(known: OrderFacts, placed: OrderFacts) -> list[str]:
    """What a second OrderPlaced would change of the order as first placed; empty when it
    repeats it. The first facts are kept: a buyer, seller or amount that changes later is a
    forgery or an upstream bug, never a reason to hand the order to someone else."""
    return [name for name in PLACED_FACTS if getattr(known, name) != getattr(placed, name)]
