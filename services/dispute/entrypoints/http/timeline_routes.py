"""GET /v1/disputes/{id}/timeline: the dispute's history, from the timeline projection.

Parties see only their own disputes (404 otherwise, as for the dispute itself) and never the
platform's internal notes; `as_of` gives the timeline as it stood at that moment. A page
holds at most `limit` entries (100 by default, 500 at most); `next_cursor` fetches the next.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.entrypoints.http.deps import Caller, dispute_to_read
from services.dispute.entrypoints.http.responses import READ
from services.dispute.entrypoints.http.query_types import Rfc3339
from services.dispute.projections.timeline import read_timeline, utc

router = APIRouter(prefix="/v1", tags=["disputes"])
# A cursor is a dispute version, an INTEGER column: nine digits stay inside it (PostgreSQL
# answered a longer one with "integer out of range", a 500, found by schemathesis).
VERSION = r"^[0-9]{1,9}$"


class ActorView(BaseModel):
    role: str
    id: str


class TimelineEntry(BaseModel):
    at: datetime
    actor: ActorView
    event_type: str
    summary: str
    details: dict
    version: int
    visibility: str


class Timeline(BaseModel):
    dispute_id: UUID
    as_of: datetime | None
    entries: list[TimelineEntry]
    next_cursor: str | None = None


@router.get("/disputes/{dispute_id}/timeline", response_model=Timeline, responses=READ)
async def get_timeline(dispute_id: UUID, caller: Caller, request: Request,
                       as_of: Rfc3339 | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       cursor: Annotated[str | None, Query(pattern=VERSION)] = None):
    """Entries in order (oldest first); `as_of` (RFC 3339) keeps those recorded at or before it."""
    state = request.app.state
    await dispute_to_read(request, dispute_id, caller)
    is_party = caller.role in ("buyer", "seller")
    if caller.role not in ("buyer", "seller", "operator"):
        raise Problem(403, "FORBIDDEN", "only the parties and operators read a timeline")
    entries = await asyncio.to_thread(read_timeline, state.engine, dispute_id,
                                      as_of and utc(as_of), not is_party,
                                      after_version=_after(cursor), limit=limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    timeline = Timeline(dispute_id=dispute_id, as_of=as_of, entries=entries,
                        next_cursor=str(entries[-1]["version"]) if more else None)
    return conditional_json(request, timeline)


def _after(cursor: str | None) -> int:
    """The version the previous page ended at (the cursor is that version)."""
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit()):
        raise Problem(422, "VALIDATION_FAILED", "the cursor is not one this API gave out")
    return int(cursor)
