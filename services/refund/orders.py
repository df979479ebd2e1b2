"""The refund service's own facts about orders, learned from `orders.events` (group `refund`):
who bought from whom, the items and what was paid, and what the order service refunded outside
disputes. Each order event is applied once: its `event_id` is recorded in the same transaction
as its effect, so a redelivered event changes nothing.

The first OrderPlaced of an order is kept: a later one that contradicts it is refused
(`OrderContradicted`) and changes nothing; one that repeats it is a no-op. Events of one order
may arrive in any order, so an OrderRefunded before its OrderPlaced is counted all the same.
"""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import Column, Engine, MetaData, String, Table, Text, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from contracts.orders import OrderPlaced, OrderRefunded
from services.common.database import once_more_after_a_lost_connection
from services.refund.policy import PaidOrder, order_changes

metadata = MetaData()
orders = Table(
    "refund_orders", metadata,
    Column("order_id", String(128), primary_key=True),
    Column("buyer_id", String(128)), Column("seller_id", String(128)),
    Column("currency", String(3)), Column("items", Text), Column("paid_amount", String(32)),
    Column("refunded_outside", String(32), nullable=False, server_default="0"),
)
applied_order_events = Table(
    "refund_applied_order_events", metadata, Column("event_id", String(36), primary_key=True))


class OrderContradicted(Exception):
    """A second OrderPlaced that would change a known order: refused, the first facts stay."""

    reason = "ORDER_CONTRADICTS_KNOWN"

    def __init__(self, order_id: str, changes: list[str]):
        super().__init__(f"{self.reason}: OrderPlaced for {order_id} changes {', '.join(changes)}")
        self.order_id, self.changes = order_id, changes


class PaidOrders:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    @once_more_after_a_lost_connection
    def apply(self, event) -> bool:
        """Apply one order event; False when it was applied before or teaches nothing here
        (shipping and delivery do not change what may be refunded)."""
        if not isinstance(event, (OrderPlaced, OrderRefunded)):
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(applied_order_events).values(event_id=str(event.event_id)))
                _ensure_row(conn, event.order_id)
                if isinstance(event, OrderPlaced):
                    _place(conn, event)
                else:
                    _add_outside_refund(conn, event)
            return True
        except IntegrityError:
            return False

    @once_more_after_a_lost_connection
    def order(self, order_id: str) -> PaidOrder | None:
        with self.engine.connect() as conn:
            return read_order(conn, order_id)


def read_order(conn, order_id: str, for_update: bool = False) -> PaidOrder | None:
    """The order as we know it, or None until its OrderPlaced was applied. `for_update` locks
    its row, which serialises the refunds of one order."""
    row = conn.execute(_LOCKED_ORDER if for_update else _ORDER, {"order": order_id}).mappings().first()
    return order_from(row) if row is not None else None


def order_from(row, prefix: str = "") -> PaidOrder | None:
    """The order in a row of `orders` (its columns named `prefix` + column name), None while
    its OrderPlaced is not applied (a row an OrderRefunded made first)."""
    if row[f"{prefix}buyer_id"] is None:
        return None
    items = tuple((item, Decimal(amount)) for item, amount in json.loads(row[f"{prefix}items"]).items())
    return PaidOrder(order_id=row[f"{prefix}order_id"], buyer_id=row[f"{prefix}buyer_id"],
                     seller_id=row[f"{prefix}seller_id"], currency=row[f"{prefix}currency"], items=items,
                     paid_amount=Decimal(row[f"{prefix}paid_amount"]),
                     refunded_outside=Decimal(row[f"{prefix}refunded_outside"]))


_ORDER = select(orders).where(orders.c.order_id == bindparam("order"))
_LOCKED_ORDER = (update(orders).where(orders.c.order_id == bindparam("order"))
                 .values(order_id=orders.c.order_id).returning(*orders.c))
"""The row locked (a row lock in PostgreSQL, the write lock in SQLite) and read in one
statement; both built once, as they are run for every refund."""


def paid_order_from(event: OrderPlaced) -> PaidOrder:
    return PaidOrder(order_id=event.order_id, buyer_id=event.buyer_id, seller_id=event.seller_id,
                     currency=event.currency,
                     items=tuple((item.item_id, item.amount) for item in event.items),
                     paid_amount=event.total_amount)


def _ensure_row(conn, order_id: str) -> None:
    exists = conn.execute(select(orders.c.order_id).where(orders.c.order_id == order_id)).first()
    if exists is None:
        conn.execute(insert(orders).values(order_id=order_id, refunded_outside="0"))


def _place(conn, event: OrderPlaced) -> None:
    placed, known = paid_order_from(event), read_order(conn, event.order_id, for_update=True)
    if known is not None:
        changes = order_changes(known, placed)
        if changes:
            raise OrderContradicted(event.order_id, changes)
        return
    conn.execute(update(orders).where(orders.c.order_id == event.order_id).values(
        buyer_id=placed.buyer_id, seller_id=placed.seller_id, currency=placed.currency,
        items=json.dumps({item: str(amount) for item, amount in placed.items}),
        paid_amount=str(placed.paid_amount)))


def _add_outside_refund(conn, event: OrderRefunded) -> None:
    current = conn.execute(select(orders.c.refunded_outside).where(
        orders.c.order_id == event.order_id).with_for_update()).scalar_one()
    conn.execute(update(orders).where(orders.c.order_id == event.order_id)
                 .values(refunded_outside=str(Decimal(current) + event.amount)))
