"""The dispute service's read model of upstream orders, fed by `orders.events`.

Each order event is applied once (its `event_id` is recorded in the same transaction as its
effect); events may arrive out of order, so every column is filled by whichever event knows it.
The first OrderPlaced of an order is kept: a later one repeating it changes nothing, one that
contradicts it (another buyer, seller, items, amounts or dates) is refused with
`OrderContradicted` and changes nothing either.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (Column, Engine, Index, MetaData, String, Table, Text, func, insert, select,
                        update)
from sqlalchemy.exc import IntegrityError

from services.common.database import UtcDateTime, create_missing_indexes

from contracts.orders import OrderDelivered, OrderPlaced, OrderRefunded, OrderShipped
from services.dispute.domain import OrderFacts
from services.dispute.domain.orders import contradictions

metadata = MetaData()
orders = Table(
    "orders", metadata,
    Column("order_id", String(128), primary_key=True),
    Column("buyer_id", String(128)), Column("seller_id", String(128)),
    Column("currency", String(3)), Column("items", Text), Column("total_amount", String(32)),
    Column("placed_at", UtcDateTime()),
    Column("promised_delivery_date", UtcDateTime()),
    Column("shipped_at", UtcDateTime()), Column("delivered_at", UtcDateTime()),
    Column("refunded_total", String(32), nullable=False, default="0"),
)
# a buyer's orders, newest first (the buyer's page) and a seller's orders placed in a window (the
# seller record): without them every such read scanned the orders of the whole marketplace
Index("ix_orders_buyer_placed", orders.c.buyer_id, orders.c.placed_at)
Index("ix_orders_seller_placed", orders.c.seller_id, orders.c.placed_at)
applied_order_events = Table(
    "applied_order_events", metadata, Column("event_id", String(36), primary_key=True),
)
# Each OrderRefunded of an order, so an opening that raced one can name it (refund_event_ids).
order_refunds = Table(
    "order_refunds", metadata, Column("event_id", String(36), primary_key=True),
    Column("order_id", String(128), nullable=False, index=True),
)


class OrderContradicted(Exception):
    """An OrderPlaced for a known order stating other facts: refused, the first ones stay."""

    reason = "ORDER_CONTRADICTS_KNOWN"

    def __init__(self, order_id: str, changes: list[str]):
        super().__init__(f"{self.reason}: OrderPlaced for {order_id} changes {', '.join(changes)}")
        self.order_id, self.changes = order_id, changes


class OrderBook:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self.engine)
        create_missing_indexes(self.engine, orders)

    def apply(self, event: OrderPlaced | OrderShipped | OrderDelivered | OrderRefunded) -> bool:
        """Apply one order event; False when it was applied before (a duplicate). Raises
        `OrderContradicted` for an OrderPlaced that contradicts the known order."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(applied_order_events).values(event_id=str(event.event_id)))
                self._ensure_row(conn, event.order_id)
                if isinstance(event, OrderPlaced) and self._already_placed(conn, event):
                    return True
                conn.execute(update(orders).where(orders.c.order_id == event.order_id)
                             .values(**_changes(conn, event)))
                if isinstance(event, OrderRefunded):
                    conn.execute(insert(order_refunds).values(event_id=str(event.event_id),
                                                              order_id=event.order_id))
            return True
        except IntegrityError:
            return False

    def _already_placed(self, conn, placed: OrderPlaced) -> bool:
        known = _facts(conn, placed.order_id, for_update=True)
        if known is None:
            return False
        changes = contradictions(known, self.facts_from(placed))
        if changes:
            raise OrderContradicted(placed.order_id, changes)
        return True

    def facts(self, order_id: str) -> OrderFacts | None:
        with self.engine.connect() as conn:
            return _facts(conn, order_id)

    def refund_event_ids(self, order_id: str) -> list[str]:
        """The OrderRefunded events booked for the order (those booked before this list was
        kept are counted in its refunded total only)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(order_refunds.c.event_id)
                                     .where(order_refunds.c.order_id == order_id)).scalars())

    def orders_of_buyer(self, buyer_id: str, limit: int = 100) -> list[OrderFacts]:
        """The buyer's orders, newest first (for the buyer's "my orders" page)."""
        query = (select(orders.c.order_id).where(orders.c.buyer_id == buyer_id,
                                                 orders.c.placed_at.is_not(None))
                 .order_by(orders.c.placed_at.desc()).limit(limit))
        with self.engine.connect() as conn:
            found = [_facts(conn, order_id) for order_id in conn.execute(query).scalars()]
        return [facts for facts in found if facts is not None]

    def orders_placed(self, seller_id: str, since: datetime, until: datetime) -> int:
        """How many of the seller's orders were placed in (since, until] (the seller record's
        "orders seen")."""
        query = select(func.count()).select_from(orders).where(
            orders.c.seller_id == seller_id, orders.c.placed_at > since,
            orders.c.placed_at <= until)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    @staticmethod
    def facts_from(placed: OrderPlaced) -> OrderFacts:
        """The facts an OrderPlaced alone gives (for tests and tools)."""
        return OrderFacts(order_id=placed.order_id, buyer_id=placed.buyer_id,
                          seller_id=placed.seller_id, currency=placed.currency,
                          items={i.item_id: i.amount for i in placed.items},
                          total_amount=placed.total_amount, placed_at=placed.placed_at,
                          promised_delivery_date=placed.promised_delivery_date)

    @staticmethod
    def _ensure_row(conn, order_id: str) -> None:
        exists = conn.execute(select(orders.c.order_id).where(orders.c.order_id == order_id)).first()
        if exists is None:
            conn.execute(insert(orders).values(order_id=order_id, refunded_total="0"))


def _facts(conn, order_id: str, for_update: bool = False) -> OrderFacts | None:
    query = select(orders).where(orders.c.order_id == order_id)
    row = conn.execute(query.with_for_update() if for_update else query).mappings().first()
    if row is None or row["placed_at"] is None:
        return None
    return OrderFacts(
        order_id=row["order_id"], buyer_id=row["buyer_id"], seller_id=row["seller_id"],
        currency=row["currency"],
        items={k: Decimal(v) for k, v in json.loads(row["items"]).items()},
        total_amount=Decimal(row["total_amount"]), placed_at=row["placed_at"],
        promised_delivery_date=row["promised_delivery_date"],
        delivered_at=row["delivered_at"],
        refunded_outside_disputes=Decimal(row["refunded_total"]),
    )


def _changes(conn, event) -> dict:
    if isinstance(event, OrderPlaced):
        return {"buyer_id": event.buyer_id, "seller_id": event.seller_id, "currency": event.currency,
                "items": json.dumps({i.item_id: str(i.amount) for i in event.items}),
                "total_amount": str(event.total_amount), "placed_at": event.placed_at,
                "promised_delivery_date": event.promised_delivery_date}
    if isinstance(event, OrderShipped):
        return {"shipped_at": event.shipped_at}
    if isinstance(event, OrderDelivered):
        return {"delivered_at": event.delivered_at}
    current = conn.execute(select(orders.c.refunded_total)
                           .where(orders.c.order_id == event.order_id)).scalar_one()
    return {"refunded_total": str(Decimal(current) + event.amount)}
