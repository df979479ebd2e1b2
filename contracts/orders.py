"""`orders.events`: what the upstream order service tells us (key = order id)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union
from uuid import UUID

from pydantic import Field, StrictInt, TypeAdapter

from contracts.envelope import PublicModel, Timestamp

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
    schema_version: StrictInt = 1


class OrderPlaced(OrderEventBase):
    event_type: Literal["OrderPlaced"] = "OrderPlaced"
    buyer_id: str = Field(min_length=1)
    seller_id: str = Field(min_length=1)
    currency: Currency
    items: list[OrderItem] = Field(min_length=1)
    total_amount: Amount
    placed_at: Timestamp
    promised_delivery_date: Timestamp


class OrderShipped(OrderEventBase):
    event_type: Literal["OrderShipped"] = "OrderShipped"
    shipped_at: Timestamp
    carrier: str
    tracking_number: str


class OrderDelivered(OrderEventBase):
    event_type: Literal["OrderDelivered"] = "OrderDelivered"
    delivered_at: Timestamp


class OrderRefunded(OrderEventBase):
    event_type: Literal["OrderRefunded"] = "OrderRefunded"
    amount: Amount
    refunded_at: Timestamp


OrderEvent = Annotated[
    Union[OrderPlaced, OrderShipped, OrderDelivered, OrderRefunded], Field(discriminator="event_type")
]
ORDER_EVENT = TypeAdapter(OrderEvent)
EVENT_TYPES = frozenset(model.model_fields["event_type"].default
                        for model in (OrderPlaced, OrderShipped, OrderDelivered, OrderRefunded))


def parse_order_event(data: bytes) -> OrderPlaced | OrderShipped | OrderDelivered | OrderRefunded:
    return ORDER_EVENT.validate_json(data)
