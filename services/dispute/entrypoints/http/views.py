"""What the API shows of a dispute. Messages for the platform only are shown to operators
(and to their own author); everything else is the same for every reader.

The view is bounded: it carries the latest `latest_messages` messages (20 by default,
DISPUTE_VIEW_LATEST_MESSAGES), how many the reader may see in all, and where to page through
them (GET /v1/disputes/{id}/messages). Evidence and offers are capped per dispute (policy).
"""

from __future__ import annotations

import threading
from dataclasses import fields, is_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.common.auth import Principal


class ActorView(BaseModel):
    role: str
    id: str


class OfferView(BaseModel):
    offer_id: str
    type: str
    amount: Decimal | None
    currency: str
    round: int
    made_by: str
    note: str
    status: str
    made_at: datetime
    respond_by: datetime


class EvidenceView(BaseModel):
    evidence_id: str
    content_type: str
    size: int
    sha256: str
    filename: str
    description: str
    added_by: str
    added_at: datetime
    download_url: str


class MessageView(BaseModel):
    message_id: str
    text: str
    visibility: str
    posted_by: ActorView
    posted_at: datetime


class AppealView(BaseModel):
    appeal_id: str
    evidence_ids: list[str]
    reason: str
    appealed_by: str
    appealed_at: datetime
    status: str
    outcome: str | None = None
    extra_refund: Decimal | None = None
    note: str | None = None
    decided_at: datetime | None = None


class ResolutionView(BaseModel):
    outcome: str
    resolved_by: str
    remedy: str
    refund_amount: Decimal
    currency: str
    note: str
    resolved_at: datetime


class EvidenceRequestView(BaseModel):
    request_id: str
    from_party: str
    note: str
    due: datetime
    status: str


class DisputeView(BaseModel):
    id: UUID
    order_id: str
    item_id: str
    buyer_id: str
    seller_id: str
    reason: str
    request: str
    request_amount: Decimal | None
    description: str
    status: str
    awaiting: str
    deadlines: dict[str, datetime]
    offers: list[OfferView]
    current_offer_id: str | None
    paid_amount: Decimal
    refunded_total: Decimal
    refundable_amount: Decimal
    currency: str
    resolution: ResolutionView | None
    appeals: list[AppealView]
    evidence: list[EvidenceView]
    messages: list[MessageView]
    message_count: int
    messages_url: str
    evidence_request: EvidenceRequestView | None
    escalation: dict[str, Any] | None
    return_shipment: dict[str, Any] | None
    replacement: dict[str, Any] | None
    feedback: dict[str, dict[str, Any]]
    version: int
    created_at: datetime
    updated_at: datetime


LATEST_MESSAGES = 20


def dispute_view(dispute, viewer: Principal | None = None,
                 latest_messages: int = LATEST_MESSAGES) -> DisputeView:
    """The dispute as `viewer` may see it (no viewer: as a party who wrote nothing private),
    with its latest `latest_messages` messages (at least one)."""
    return _view(dispute, viewer, latest_messages)[0]


def dispute_view_json(dispute, viewer: Principal | None = None,
                      latest_messages: int = LATEST_MESSAGES) -> tuple[DisputeView, bytes]:
    """`dispute_view` and its JSON, the same bytes as `model_dump_json()`: every other field
    serialised, the messages' JSON (each serialised once, kept with its view) put in their
    place. Serialising the latest 20 messages again was most of a command's answer's JSON."""
    view, kept = _view(dispute, viewer, latest_messages)
    body = view.model_dump_json(exclude=_MESSAGES).encode()
    at = body.find(_AFTER_MESSAGES)
    if at < 0 or body.find(_AFTER_MESSAGES, at + 1) >= 0:  # never seen; then the plain way
        return view, view.model_dump_json().encode()
    return view, b"".join((body[:at], b',"messages":[', b",".join(kept), b"]", body[at:]))


_MESSAGES: set[str] = {"messages"}  # never changed
_AFTER_MESSAGES = b',"message_count":'  # the field after `messages`: where they go


def _view(dispute, viewer: Principal | None, latest_messages: int) -> tuple[DisputeView, list[bytes]]:
    # Only the latest messages become plain fields: every command answers with this view, and
    # turning all of a long conversation into dicts made the answer cost grow with it.
    readable = [m for m in dispute.messages if _may_read(m, viewer)]
    latest = [_message_entry(m) for m in readable[-max(1, latest_messages):]]
    return DisputeView(
        id=dispute.id, order_id=dispute.order_id, item_id=dispute.item_id,
        buyer_id=dispute.buyer_id, seller_id=dispute.seller_id, reason=dispute.reason,
        request=dispute.request, request_amount=dispute.request_amount,
        description=dispute.description, status=dispute.status, awaiting=dispute.awaiting,
        deadlines=dispute.deadlines, current_offer_id=dispute.current_offer_id,
        offers=[_offer(o) for o in dispute.offers.values()],
        paid_amount=dispute.paid_amount, refunded_total=dispute.refunded_total,
        refundable_amount=dispute.refundable_amount, currency=dispute.currency,
        resolution=_plain(dispute.resolution), appeals=[_fields_of(a) for a in dispute.appeals],
        evidence=[_evidence(dispute.id, e) for e in dispute.evidence.values()],
        messages=[view for view, _ in latest],
        message_count=len(readable),
        messages_url=f"/v1/disputes/{dispute.id}/messages",
        evidence_request=_plain(dispute.evidence_request), escalation=_plain(dispute.escalation),
        return_shipment=_known(dispute.return_shipment), replacement=_known(dispute.replacement),
        feedback={str(role): _fields_of(given) for role, given in dispute.feedback.items()},
        version=dispute.version, created_at=dispute.opened_at,
        updated_at=dispute.updated_at,
    ), [kept for _, kept in latest]


def readable_messages(dispute, viewer: Principal | None) -> list[dict]:
    """Every message `viewer` may read, oldest first."""
    return [_fields_of(m) for m in dispute.messages if _may_read(m, viewer)]


MESSAGE_VIEWS_KEPT = 2048
"""The latest 20 messages of ~100 busy disputes. A kept view holds its message too: with 4,096
the dispute API's peak RSS reached 150.2 MB in one `make bench-quick` of three (target 150)."""
_message_views: dict[int, tuple[Any, MessageView, bytes]] = {}
_keeping = threading.Lock()


def _message_view(message: Any) -> MessageView:
    return _message_entry(message)[0]


def _message_entry(message: Any) -> tuple[MessageView, bytes]:
    """A message's view, validated once, and its JSON, serialised once: a message never
    changes, and every command's answer carries the latest 20 of its dispute (validating them
    all again was most of the view's cost). Kept by the message object's identity (the entry
    holds the object, so the id is not reused while kept), the oldest forgotten past
    MESSAGE_VIEWS_KEPT; the writer's threads and the event loop both render views."""
    kept = _message_views.get(id(message))
    if kept is not None and kept[0] is message:
        return kept[1], kept[2]
    view = MessageView.model_validate(_fields_of(message))
    body = view.model_dump_json().encode()
    with _keeping:
        _message_views[id(message)] = (message, view, body)
        while len(_message_views) > MESSAGE_VIEWS_KEPT:
            del _message_views[next(iter(_message_views))]
    return view, body


def evidence_url(dispute_id, evidence_id: str) -> str:
    return f"/v1/disputes/{dispute_id}/evidence/{evidence_id}"


def _fields_of(value: Any) -> Any:
    """dataclasses.asdict without its deep copies (the fields are immutable values; the copies
    were most of the cost of every command's answer)."""
    names = _field_names(type(value))
    if names is not None:
        return {name: _fields_of(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return type(value)(_fields_of(v) for v in value)
    if isinstance(value, dict):
        return {k: _fields_of(v) for k, v in value.items()}
    return value


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """A dataclass's field names, None for any other type, worked out once per type
    (is_dataclass and fields() on every value were a tenth of a command's answer)."""
    if kind not in _FIELD_NAMES:
        _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None
    return _FIELD_NAMES[kind]


def _plain(value: Any) -> dict[str, Any] | None:
    """A value object of the domain's state as the view's plain fields."""
    return None if value is None else _fields_of(value)


def _known(value: Any) -> dict[str, Any] | None:
    """Like `_plain`, leaving out what is not known yet (a return's carrier before it ships)."""
    plain = _plain(value)
    return None if plain is None else {k: v for k, v in plain.items() if v is not None}


def _offer(offer: Any) -> dict:
    return {**_fields_of(offer), "type": offer.offer_type}


def _evidence(dispute_id, evidence: Any) -> dict:
    return {**_fields_of(evidence), "download_url": evidence_url(dispute_id, evidence.evidence_id)}


def _may_read(message: Any, viewer: Principal | None) -> bool:
    if message.visibility != "PLATFORM_ONLY":
        return True
    if viewer is None:
        return False
    author = message.posted_by
    return viewer.role == "operator" or (author.role, author.id) == (viewer.role, viewer.id)


class OfferCreated(BaseModel):
    offer: OfferView
    dispute: DisputeView


class EvidenceCreated(BaseModel):
    evidence: EvidenceView
    dispute: DisputeView


class MessageCreated(BaseModel):
    message: MessageView
    dispute: DisputeView


class AppealCreated(BaseModel):
    appeal: AppealView
    dispute: DisputeView


class EvidenceRequestCreated(BaseModel):
    evidence_request: EvidenceRequestView
    dispute: DisputeView
