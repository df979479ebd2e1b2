"""`orders.events`: what the upstream order service tells us (key = order id)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Union
from uuid import UUID

from pydantic import Field, TypeAdapter

from contracts.envelope import PublicModel

Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


SCHEMA_VERSIONS = frozenset({1})
"""The `schema_version`s this contract reads (a record without one is at version 1); a
consumer dead-letters any other as unknown."""


class OrderItem(PublicModel):
    item_id: str = Field(min_length=1, max_length=128)
    amount: Amount


class OrderEventBase(PublicModel):
    event_id: UUID
    order_id: str = Field(min_length=1, max_length=128)
    schema_version: int = 1


class OrderPlaced(OrderEventBase):
    event_type: Literal["OrderPlaced"] = "OrderPlaced"
    buyer_id: str = Field(min_length=1)
    seller_id: str = Field(min_length=1)
    currency: Currency
    items: list[OrderItem] = Field(min_length=1)
    total_amount: Amount
    placed_at: datetime
    promised_delivery_date: datetime


class OrderShipped(OrderEventBase):
    event_type: Literal["OrderShipped"] = "OrderShipped"
    shipped_at: datetime
    carrier: str
    tracking_number: str


class OrderDelivered(OrderEventBase):
    event_type: Literal["OrderDelivered"] = "OrderDelivered"
    delivered_at: datetime


class OrderRefunded(OrderEventBase):
    event_type: Literal["OrderRefunded"] = "OrderRefunded"
    amount: Amount
    refunded_at: datetime


OrderEvent = Annotated[
    Union[OrderPlaced, OrderShipped, OrderDelivered, OrderRefunded], Field(discriminator="event_type")
]
ORDER_EVENT = TypeAdapter(OrderEvent)


def parse_order_event(data: bytes) -> OrderPlaced | OrderShipped | OrderDelivered | OrderRefunded:
    return ORDER_EVENT.validate_json(data)
