"""The refund service's stores set up as if it had consumed an order and its dispute."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from services.refund.orders import PaidOrders
from services.refund.policy import OrderTerms
from services.refund.store import RefundStore
from tests.support.orders import order_placed


def opened_on_known_order(store: RefundStore, paid: str = "100.00", refunded_before: str = "0",
                          order_id: str | None = None, dispute_id: str | None = None) -> str:
    """A dispute on item I-1 of an order the refund service learned (one item, `paid`)."""
    order_id = order_id or f"O-{uuid4().hex[:8]}"
    PaidOrders(store.engine).apply(order_placed(order_id=order_id, amount=paid))
    dispute_id = dispute_id or str(uuid4())
    store.accept(event_id=str(uuid4()), instruction=None, correlation_id=None,
                 terms=terms_of(dispute_id, order_id, paid, refunded_before))
    return dispute_id


def terms_of(dispute_id: str, order_id: str, paid: str = "100.00",
             refunded_before: str = "0") -> OrderTerms:
    return OrderTerms(dispute_id, order_id, Decimal(paid), "USD", Decimal(refunded_before),
                      item_id="I-1", buyer_id="B-1", seller_id="S-1")
