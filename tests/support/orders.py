"""Order events as the upstream order service would publish them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

from contracts.orders import OrderDelivered, OrderItem, OrderPlaced

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def order_placed(order_id="O-1", buyer="B-1", seller="S-1", item="I-1", amount="100.00",
                 currency="USD", now=NOW, promised_in=timedelta(days=-3)) -> OrderPlaced:
    return OrderPlaced(event_id=uuid4(), order_id=order_id, buyer_id=buyer, seller_id=seller,
                       currency=currency, items=[OrderItem(item_id=item, amount=Decimal(amount))],
                       total_amount=Decimal(amount), placed_at=now - timedelta(days=10),
                       promised_delivery_date=now + promised_in)


def order_delivered(order_id="O-1", now=NOW) -> OrderDelivered:
    return OrderDelivered(event_id=uuid4(), order_id=order_id, delivered_at=now - timedelta(days=2))
