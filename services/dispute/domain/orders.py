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
