"""Reading many disputes: parties' lists and the operators' queue, from the dispute index.

The index is a projection, a moment behind the store; single-dispute reads go to the store.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, literal, select, tuple_

from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.entrypoints.http.responses import LIST
from services.dispute.entrypoints.http.routes import Caller
from services.dispute.entrypoints.http.schemas import NO_NUL
from services.dispute.entrypoints.http.query_types import IsoDuration
from services.dispute.projections.dispute_index import NEVER, deadline_order, live_index_table, utc

router = APIRouter(prefix="/v1", tags=["disputes"])
OrderId = Annotated[str | None, Query(max_length=128, pattern=NO_NUL)]  # as long as an order id may be
PartyId = Annotated[str | None, Query(max_length=2048, pattern=NO_NUL)]  # party ids are unbounded upstream
FAR_FUTURE = NEVER  # a cursor past every deadline
Status = Literal["AWAITING_SELLER_RESPONSE", "AWAITING_BUYER_RESPONSE", "AWAITING_RETURN_SHIPMENT",
                 "RETURN_IN_TRANSIT", "AWAITING_REPLACEMENT", "UNDER_REVIEW", "RESOLVED", "APPEALED",
                 "CLOSED", "WITHDRAWN"]


class DisputeSummary(BaseModel):
    id: str
    order_id: str
    item_id: str
    buyer_id: str
    seller_id: str
    reason: str
    request: str
    status: str
    awaiting: str
    next_deadline: datetime | None
    deadlines: dict[str, datetime]
    paid_amount: str
    refundable_amount: str
    currency: str
    version: int
    created_at: datetime
    updated_at: datetime


class DisputePage(BaseModel):
    items: list[DisputeSummary]
    next_cursor: str | None
    counts_by_status: dict[str, int] | None = None


@router.get("/disputes", response_model=DisputePage, responses=LIST)
async def list_disputes(
    caller: Caller, request: Request,
    status: Annotated[list[Status] | None, Query()] = None,
    order_id: OrderId = None, buyer_id: PartyId = None, seller_id: PartyId = None,
    awaiting: Literal["buyer", "seller", "operator", "none"] | None = None,
    reason: Literal["ITEM_NOT_RECEIVED", "DAMAGED", "NOT_AS_DESCRIBED", "LATE_DELIVERY"] | None = None,
    due_within: Annotated[IsoDuration | None, Query(description="ISO 8601 duration, e.g. PT24H")] = None,
    sort: Literal["created_at", "next_deadline"] = "created_at",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
):
    engine = request.app.state.engine
    table = await asyncio.to_thread(live_index_table, engine)  # a rebuild may have switched it
    filters = _visible_to(table, caller, buyer_id, seller_id)
    filters += _filters(table, status, order_id, buyer_id, seller_id, awaiting)
    if reason is not None:
        filters.append(table.c.reason == reason)
    if due_within is not None:
        filters.append(table.c.next_deadline <= request.app.state.clock() + due_within)
    page = await asyncio.to_thread(_page, engine, table, filters, sort, limit, _decode(cursor))
    counts = (await asyncio.to_thread(_counts, engine, table, filters)) if caller.role == "operator" else None
    return conditional_json(request, DisputePage(items=page[0], next_cursor=page[1],
                                                 counts_by_status=counts))


def _visible_to(table, caller, buyer_id, seller_id) -> list:
    if caller.role == "buyer":
        if buyer_id not in (None, caller.id):
            raise Problem(403, "FORBIDDEN", "buyers see only their own disputes")
        return [table.c.buyer_id == caller.id]
    if caller.role == "seller":
        if seller_id not in (None, caller.id):
            raise Problem(403, "FORBIDDEN", "sellers see only their own disputes")
        return [table.c.seller_id == caller.id]
    return []


def _filters(table, status, order_id, buyer_id, seller_id, awaiting) -> list:
    c = table.c
    wanted = [(c.order_id, order_id), (c.buyer_id, buyer_id), (c.seller_id, seller_id),
              (c.awaiting, awaiting)]
    filters = [column == value for column, value in wanted if value is not None]
    if status:
        filters.append(c.status.in_(status))
    return filters


def _sort_key(table, sort: str):
    if sort == "next_deadline":
        return deadline_order(table)
    return table.c.created_at


def _page(engine, table, filters, sort, limit, after):
    key = _sort_key(table, sort)
    query = select(table).where(*filters)
    if after is not None:
        at, last_id = after
        # a row value: the created_at index is entered at it (an OR of the two conditions read
        # every row before the cursor again, page after page); the next deadline's order has
        # an index of its own expression (dispute_index.deadline_order)
        query = query.where(tuple_(key, table.c.dispute_id) > tuple_(literal(at, key.type),
                                                                     literal(last_id, table.c.dispute_id.type)))
    query = query.order_by(key, table.c.dispute_id).limit(limit + 1)
    with engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_summary(row) for row in rows]
    cursor = _encode(rows[-1], sort) if more else None
    return items, cursor


def _counts(engine, table, filters) -> dict[str, int]:
    query = select(table.c.status, func.count()).where(*filters).group_by(table.c.status)
    with engine.connect() as conn:
        return {status: count for status, count in conn.execute(query)}


def _summary(row) -> DisputeSummary:
    return DisputeSummary(
        id=row["dispute_id"], **{k: row[k] for k in (
            "order_id", "item_id", "buyer_id", "seller_id", "reason", "request", "status",
            "awaiting", "paid_amount", "refundable_amount", "currency", "version")},
        next_deadline=row["next_deadline"], deadlines=json.loads(row["deadlines"]),
        created_at=row["created_at"], updated_at=row["updated_at"])


def _encode(row, sort: str) -> str:
    value = row["next_deadline"] if sort == "next_deadline" else row["created_at"]
    value = (utc(value) or FAR_FUTURE).isoformat()
    raw = json.dumps({"s": sort, "k": value, "id": row["dispute_id"]})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str | None):
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return utc(datetime.fromisoformat(data["k"])), str(data["id"])
    except (ValueError, KeyError, TypeError):
        raise Problem(422, "VALIDATION_FAILED", "the cursor is not one this API gave out") from None
