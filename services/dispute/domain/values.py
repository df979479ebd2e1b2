"""Value types of the dispute language. Events store plain strings; these enums name them."""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    OPERATOR = "operator"
    SERVICE = "service"


class Reason(StrEnum):
    ITEM_NOT_RECEIVED = "ITEM_NOT_RECEIVED"
    DAMAGED = "DAMAGED"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    LATE_DELIVERY = "LATE_DELIVERY"


class RequestType(StrEnum):
    FULL_REFUND = "FULL_REFUND"
    PARTIAL_REFUND = "PARTIAL_REFUND"
    REPLACEMENT = "REPLACEMENT"
    RETURN_AND_REFUND = "RETURN_AND_REFUND"


class Status(StrEnum):
    AWAITING_SELLER_RESPONSE = "AWAITING_SELLER_RESPONSE"
    AWAITING_BUYER_RESPONSE = "AWAITING_BUYER_RESPONSE"
    AWAITING_RETURN_SHIPMENT = "AWAITING_RETURN_SHIPMENT"
    RETURN_IN_TRANSIT = "RETURN_IN_TRANSIT"
    AWAITING_REPLACEMENT = "AWAITING_REPLACEMENT"
    UNDER_REVIEW = "UNDER_REVIEW"
    RESOLVED = "RESOLVED"
    APPEALED = "APPEALED"
    CLOSED = "CLOSED"
    WITHDRAWN = "WITHDRAWN"


@dataclass(frozen=True)
class Actor:
    """Who acted: taken from the authenticated principal, never from a request body."""

    role: Role
    id: str

    def as_dict(self) -> dict[str, str]:
        return {"role": str(self.role), "id": self.id}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> "Actor":
        return cls(role=Role(data["role"]), id=data["id"])
