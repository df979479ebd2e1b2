"""Every seller's public dispute record, readable by any authenticated principal.

Built from the seller record projection (projections/seller_record.py) and the order book;
it names no buyer and carries no comment.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import TypeAdapter

from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.entrypoints.http.deps import Caller
from services.dispute.entrypoints.http.query_types import IsoDuration, Rfc3339
from services.dispute.entrypoints.http.responses import LIST
from services.dispute.entrypoints.http.schemas import NO_NUL
from services.dispute.projections.seller_record import SellerRecord, read_facts, seller_record
from services.dispute.projections.timeline import utc

router = APIRouter(prefix="/v1")
SHORTEST, LONGEST = timedelta(days=1), timedelta(days=3650)
AS_JSON = TypeAdapter(SellerRecord)  # durations as ISO 8601, as the document says


@router.get("/sellers/{seller_id}/dispute-record", response_model=SellerRecord,
            responses=LIST, tags=["sellers"])
async def dispute_record(
    seller_id: Annotated[str, Path(max_length=2048, pattern=NO_NUL)], caller: Caller, request: Request,
    window: Annotated[IsoDuration, Query(description="ISO 8601 duration, from P1D to P3650D")]
    = timedelta(days=90),
    as_of: Annotated[Rfc3339 | None, Query(description="the record as it stood then "
                                                        "(default: now)")] = None,
) -> Response:
    """Disputes per order, outcome shares, timeouts, time to resolution, escalations and
    buyers' ratings of the seller's disputes opened in the window ending at `as_of`."""
    if not SHORTEST <= window <= LONGEST:
        raise Problem(422, "VALIDATION_FAILED", "window runs from P1D to P3650D", field="window")
    state = request.app.state
    until = utc(as_of) if as_of is not None else utc(state.clock())
    since = until - window
    facts = await asyncio.to_thread(read_facts, state.engine, seller_id, since, until)
    orders = await asyncio.to_thread(state.orders.orders_placed, seller_id, since, until)
    record = seller_record(seller_id, facts, orders, until, window)
    return conditional_json(request, AS_JSON.dump_python(record, mode="json"))
