"""Request bodies of the dispute API. Unknown fields are refused; who acts is never a field."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.dispute.entrypoints.http.views import DisputeView, dispute_view  # noqa: F401 (re-exported)

Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Text = Annotated[str, Field(max_length=5000)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
EvidenceIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                        Field(max_length=20)]
Remedy = Literal["FULL_REFUND", "PARTIAL_REFUND", "REPLACEMENT", "RETURN_AND_REFUND"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Command(Body):
    """Every command may carry the version it was decided on (409 when stale)."""

    expected_version: int | None = Field(default=None, ge=0)


class OpenDispute(Body):
    order_id: str = Field(min_length=1, max_length=128)
    item_id: str = Field(min_length=1, max_length=128)
    reason: Literal["ITEM_NOT_RECEIVED", "DAMAGED", "NOT_AS_DESCRIBED", "LATE_DELIVERY"]
    request: Remedy
    request_amount: Amount | None = None
    description: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _amount_when_partial(self) -> "OpenDispute":
        if self.request in ("PARTIAL_REFUND", "RETURN_AND_REFUND") and self.request_amount is None:
            raise ValueError(f"request_amount is required for {self.request}")
        if self.request in ("FULL_REFUND", "REPLACEMENT") and self.request_amount is not None:
            raise ValueError(f"request_amount is not allowed for {self.request}")
        return self


class OfferTermsBody(Body):
    type: Remedy
    amount: Amount | None = None
    currency: Currency | None = None
    note: Text = ""


class MakeOffer(OfferTermsBody, Command):
    pass


class AnswerOffer(Command):
    pass


class RejectOffer(Command):
    reason: Text = ""
    counter_offer: OfferTermsBody | None = None


class RejectClaim(Command):
    reason: Text = ""
    evidence_ids: EvidenceIds = []
    counter_offer: OfferTermsBody | None = None


class Escalate(Command):
    note: Text = ""


class Withdraw(Command):
    reason: Text = ""


class PostMessage(Command):
    text: str = Field(min_length=1, max_length=5000)
    visibility: Literal["PARTIES", "PLATFORM_ONLY"] = "PARTIES"


class Shipment(Command):
    carrier: ShortText
    tracking_number: ShortText


class ReturnReceipt(Command):
    condition: Literal["ITEM_RECEIVED", "ITEM_NOT_RECEIVED", "DAMAGED",
                       "EMPTY_PACKAGE_OR_DIFFERENT", "MISSING_ITEMS"]
    evidence_ids: EvidenceIds = []
    note: Text = ""


class RequestEvidence(Command):
    from_party: Literal["buyer", "seller"]
    note: Text = ""


class Decide(Command):
    outcome: Literal["BUYER_FAVOUR", "SELLER_FAVOUR", "PARTIAL"]
    refund_amount: Amount | None = None
    currency: Currency | None = None
    return_required: bool = False
    note: Text = ""


class Appeal(Command):
    evidence_ids: EvidenceIds = []
    reason: Text = ""


class DecideAppeal(Command):
    outcome: Literal["UPHELD", "OVERTURNED"]
    extra_refund: Amount | None = None
    currency: Currency | None = None
    note: Text = ""


class LeaveFeedback(Command):
    rating: int = Field(ge=1, le=5)
    comment: Text = ""


class ReplyToFeedback(Command):
    text: Text = Field(min_length=1)
