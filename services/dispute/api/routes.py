"""HTTP routes of the dispute service, under /v1."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Annotated, Callable
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, Request, Response

from services.common.auth import AuthError, Principal, read_token
from services.common.problems import Problem
from services.dispute.api.errors import to_problem
from services.dispute.api.schemas import DisputeView, OpenDispute, dispute_view
from services.dispute.context import command_context
from services.dispute.domain import Actor, DomainError, Role

router = APIRouter(prefix="/v1")


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    try:
        return read_token(request.app.state.settings.jwt_secret, authorization)
    except AuthError as exc:
        raise Problem(401, "UNAUTHENTICATED", str(exc)) from None


Caller = Annotated[Principal, Depends(principal)]


def clock(request: Request) -> Callable[[], datetime]:
    return request.app.state.clock


async def run_domain(fn, *args, **kwargs):
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except DomainError as exc:
        raise to_problem(exc) from None


def correlation_id(request: Request) -> str:
    return request.headers.get("x-correlation-id") or str(uuid4())


@router.post("/disputes", status_code=201, response_model=DisputeView)
async def open_dispute(body: OpenDispute, caller: Caller, request: Request, response: Response):
    if caller.role != "buyer":
        raise Problem(403, "FORBIDDEN", "only buyers open disputes")
    state = request.app.state
    order = await asyncio.to_thread(state.orders.facts, body.order_id)
    if order is None:
        raise Problem(422, "ORDER_NOT_FOUND", f"order {body.order_id} is not known")
    if order.buyer_id != caller.id:
        raise Problem(403, "FORBIDDEN", "you are not the buyer of this order")

    def open_it():
        with command_context(correlation_id(request)):
            return state.disputes.open_dispute(
                order=order, item_id=body.item_id, actor=Actor(Role.BUYER, caller.id),
                reason=body.reason, request=body.request, request_amount=body.request_amount,
                description=body.description, at=state.clock())

    dispute = await run_domain(open_it)
    response.headers["Location"] = f"/v1/disputes/{dispute.id}"
    response.headers["ETag"] = f'"{dispute.version}"'
    return dispute_view(dispute)


@router.get("/disputes/{dispute_id}", response_model=DisputeView)
async def get_dispute(dispute_id: UUID, caller: Caller, request: Request, response: Response):
    dispute = await run_domain(request.app.state.disputes.get_dispute, dispute_id)
    if caller.role in ("buyer", "seller") and caller.id not in (dispute.buyer_id, dispute.seller_id):
        raise Problem(404, "DISPUTE_NOT_FOUND", f"no dispute {dispute_id}")
    response.headers["ETag"] = f'"{dispute.version}"'
    return dispute_view(dispute)
