"""Reading one item a command created: the URL its `Location` named; and the messages of a
dispute page by page (the dispute view carries only the latest ones).

Each item is taken from the dispute view as this caller may see it, so the party and
visibility rules of the view hold here too (an operator's PLATFORM_ONLY message is 404 to a
party, as it is absent from their view).
"""

from __future__ import annotations

from typing import Annotated, Sequence
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.entrypoints.http.deps import Caller, dispute_to_read
from services.dispute.entrypoints.http.responses import ITEM_READ, READ
from services.dispute.entrypoints.http.views import (AppealView, DisputeView, EvidenceRequestView,
                                                    MessageView, OfferView, dispute_view,
                                                    readable_messages)

router = APIRouter(tags=["disputes"])
ON_DISPUTE = "/disputes/{dispute_id}"


async def _view(request: Request, dispute_id: UUID, caller) -> DisputeView:
    return dispute_view(await dispute_to_read(request, dispute_id, caller), caller)


def _one(items: Sequence, key: str, item_id: str, kind: str):
    for item in items:
        if getattr(item, key) == item_id:
            return item
    raise Problem(404, "NOT_FOUND", f"this dispute has no {kind} {item_id}")


@router.get(ON_DISPUTE + "/offers/{offer_id}", response_model=OfferView, responses=ITEM_READ)
async def get_offer(dispute_id: UUID, offer_id: str, caller: Caller, request: Request):
    offers = (await _view(request, dispute_id, caller)).offers
    return conditional_json(request, _one(offers, "offer_id", offer_id, "offer"))


class MessagePage(BaseModel):
    items: list[MessageView]
    total: int
    next_cursor: str | None


@router.get(ON_DISPUTE + "/messages", response_model=MessagePage, responses=READ)
async def list_messages(dispute_id: UUID, caller: Caller, request: Request,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")] = None):
    """The messages this caller may read, oldest first; pass `next_cursor` back as `cursor`."""
    messages = readable_messages(await dispute_to_read(request, dispute_id, caller), caller)
    start = _position(cursor)
    end = start + limit
    page = MessagePage(items=messages[start:end], total=len(messages),
                       next_cursor=str(end) if end < len(messages) else None)
    return conditional_json(request, page)


def _position(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit()):
        raise Problem(422, "VALIDATION_FAILED", "the cursor is not one this API gave out")
    return int(cursor)


@router.get(ON_DISPUTE + "/messages/{message_id}", response_model=MessageView,
            responses=ITEM_READ)
async def get_message(dispute_id: UUID, message_id: str, caller: Caller, request: Request):
    messages = readable_messages(await dispute_to_read(request, dispute_id, caller), caller)
    found = _one([MessageView(**m) for m in messages], "message_id", message_id, "message")
    return conditional_json(request, found)


@router.get(ON_DISPUTE + "/appeals/{appeal_id}", response_model=AppealView, responses=ITEM_READ)
async def get_appeal(dispute_id: UUID, appeal_id: str, caller: Caller, request: Request):
    appeals = (await _view(request, dispute_id, caller)).appeals
    return conditional_json(request, _one(appeals, "appeal_id", appeal_id, "appeal"))


@router.get(ON_DISPUTE + "/evidence-requests/{request_id}", response_model=EvidenceRequestView,
            responses=ITEM_READ)
async def get_evidence_request(dispute_id: UUID, request_id: str, caller: Caller, request: Request):
    """Only the dispute's current request is kept in its view."""
    current = (await _view(request, dispute_id, caller)).evidence_request
    found = _one([current] if current else [], "request_id", request_id, "evidence request")
    return conditional_json(request, found)
