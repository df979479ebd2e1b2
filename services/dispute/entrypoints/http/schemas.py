"""Request bodies of the dispute API. Unknown fields are refused; who acts is never a field.

Each schema says exactly what the API takes (its OpenAPI document is generated from here):
unknown fields are `additionalProperties: false`, an amount's limits are in its schema, and
the opening's rule on `request_amount` is an if/then of JSON Schema.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema,
                      model_validator)

from services.dispute.entrypoints.http.views import DisputeView, dispute_view  # noqa: F401 (re-exported)

# An amount: more than 0, at most 16 digits before the point and 2 after (18 in all), as a
# JSON number or a plain decimal string ("30.00"; not "3e1", " 30", "30.000").
AMOUNT_PATTERN = r"^(?:[1-9][0-9]{0,15}(?:\.[0-9]{1,2})?|0\.(?:0[1-9]|[1-9][0-9]?))$"
AMOUNT_SCHEMA = {"anyOf": [
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1e16, "multipleOf": 0.01},
    {"type": "string", "pattern": AMOUNT_PATTERN}],
    "description": "more than 0; up to 16 digits before the point, 2 after"}


def plain_decimal(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(AMOUNT_PATTERN, value):
        raise ValueError("an amount is a plain decimal: up to 16 digits, at most 2 decimals")
    return value


Amount = Annotated[Decimal, BeforeValidator(plain_decimal),
                   Field(gt=0, max_digits=18, decimal_places=2), WithJsonSchema(AMOUNT_SCHEMA)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Text = Annotated[str, Field(max_length=5000)]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
EvidenceIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                        Field(max_length=20)]
Remedy = Literal["FULL_REFUND", "PARTIAL_REFUND", "REPLACEMENT", "RETURN_AND_REFUND"]


# No text may hold a NUL character: PostgreSQL cannot store one, and a stored event holding
# one would stop the projections that copy its text (found by schemathesis on PostgreSQL).
NO_NUL = r"^[^\x00]*$"
TYPED = {"pattern", "enum", "format", "contentMediaType"}


def no_nul_in_strings(schema: dict[str, Any]) -> None:
    """Give every free-text string of a body's JSON Schema (a field, an option of it, the
    items of a list) the NO_NUL pattern; files, enums and patterned strings keep theirs."""
    for field in schema.get("properties", {}).values():
        for option in [field, *field.get("anyOf", [])]:
            for text in [option, option.get("items", {})]:
                if text.get("type") == "string" and not TYPED & set(text):
                    text["pattern"] = NO_NUL


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_nul(v) for v in value)
    return False


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=no_nul_in_strings)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if isinstance(data, dict) and _holds_nul(data):
            raise ValueError("text may not contain the NUL character")
        return data


class Command(Body):
    """Every command may carry the version it was decided on (409 when stale)."""

    expected_version: int | None = Field(default=None, ge=0)


AMOUNT_REQUESTS = ["PARTIAL_REFUND", "RETURN_AND_REFUND"]
REQUEST_AMOUNT_RULE: list[dict[str, Any]] = [{
    "if": {"properties": {"request": {"enum": AMOUNT_REQUESTS}}, "required": ["request"]},
    "then": {"required": ["request_amount"],
             "properties": {"request_amount": {"not": {"type": "null"}}}},
    "else": {"properties": {"request_amount": {"type": "null"}}}}]


def opening_schema(schema: dict[str, Any]) -> None:
    no_nul_in_strings(schema)
    schema["allOf"] = REQUEST_AMOUNT_RULE


class OpenDispute(Body):
    """`request_amount` is required for PARTIAL_REFUND and RETURN_AND_REFUND, and absent (or
    null) for FULL_REFUND and REPLACEMENT."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=opening_schema)
    order_id: str = Field(min_length=1, max_length=128)
    item_id: str = Field(min_length=1, max_length=128)
    reason: Literal["ITEM_NOT_RECEIVED", "DAMAGED", "NOT_AS_DESCRIBED", "LATE_DELIVERY"]
    request: Remedy
    request_amount: Amount | None = None
    description: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _amount_when_partial(self) -> "OpenDispute":
        if self.request in AMOUNT_REQUESTS and self.request_amount is None:
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


class EvidenceUpload(Body):
    """The multipart form of an evidence upload: one file, and nothing else but these."""

    file: UploadFile
    description: str = Field(default="", max_length=1000)
    # a form field is text: it is left out rather than sent as null
    expected_version: Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 0})] = (
        Field(default=None, ge=0))
