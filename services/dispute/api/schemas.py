"""Request and response bodies of the dispute API. Unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenDispute(Body):
    order_id: str = Field(min_length=1, max_length=128)
    item_id: str = Field(min_length=1, max_length=128)
    reason: Literal["ITEM_NOT_RECEIVED", "DAMAGED", "NOT_AS_DESCRIBED", "LATE_DELIVERY"]
    request: Literal["FULL_REFUND", "PARTIAL_REFUND", "REPLACEMENT", "RETURN_AND_REFUND"]
    request_amount: Amount | None = None
    description: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _amount_when_partial(self) -> "OpenDispute":
        if self.request in ("PARTIAL_REFUND", "RETURN_AND_REFUND") and self.request_amount is None:
            raise ValueError(f"request_amount is required for {self.request}")
        if self.request in ("FULL_REFUND", "REPLACEMENT") and self.request_amount is not None:
            raise ValueError(f"request_amount is not allowed for {self.request}")
        return self


class DisputeView(BaseModel):
    id: UUID
    order_id: str
    item_id: str
    buyer_id: str
    seller_id: str
    reason: str
    request: str
    request_amount: Decimal | None
    status: str
    awaiting: str
    deadlines: dict[str, datetime]
    paid_amount: Decimal
    refunded_total: Decimal
    refundable_amount: Decimal
    currency: str
    version: int
    created_at: datetime
    updated_at: datetime


def dispute_view(dispute) -> DisputeView:
    return DisputeView(
        id=dispute.id, order_id=dispute.order_id, item_id=dispute.item_id,
        buyer_id=dispute.buyer_id, seller_id=dispute.seller_id, reason=dispute.reason,
        request=dispute.request, request_amount=dispute.request_amount, status=dispute.status,
        awaiting=getattr(dispute, "awaiting", "seller"), deadlines=dispute.deadlines,
        paid_amount=dispute.paid_amount, refunded_total=dispute.refunded_total,
        refundable_amount=dispute.refundable_amount, currency=dispute.currency,
        version=dispute.version, created_at=dispute.opened_at, updated_at=dispute.updated_at,
    )
