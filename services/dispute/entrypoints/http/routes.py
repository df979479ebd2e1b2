"""HTTP routes of the dispute service, under /v1: opening and reading here, the commands in
one module per topic (negotiation, fulfilment, review, conversation, evidence)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Header, Request

from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.application import commands
from services.dispute.application.batch import Submission
from services.dispute.application.commands import Acting
from services.dispute.entrypoints.http import (conversation, evidence, fulfilment, items,
                                              negotiation, review)
from services.dispute.entrypoints.http.command_requests import answer, replay_answer
from services.dispute.entrypoints.http.command_route import bounded
from services.dispute.entrypoints.http.consistency import ReadYourWrites
from services.dispute.entrypoints.http.deps import (  # noqa: F401 (principal, clock: re-exported)
    Caller, actor_of, clock, correlation_id, dispute_to_read, principal, require_role, run_domain,
)
from services.dispute.entrypoints.http.errors import to_problem
from services.dispute.entrypoints.http.idempotency import fingerprint, key_claim, kept, written
from services.dispute.entrypoints.http.responses import DISPUTE_READ, OPEN
from services.dispute.entrypoints.http.schemas import DisputeView, OpenDispute, dispute_view
from services.dispute.entrypoints.kafka_subscribers import note_refunds_missed_at_opening
from services.dispute.domain import DomainError

log = structlog.get_logger("dispute.api")
router = APIRouter(prefix="/v1")
KeyHeader = Annotated[str | None, Header(min_length=1, max_length=255)]


@router.post("/disputes", status_code=201, response_model=DisputeView, responses=OPEN,
              tags=["disputes"])
@bounded
async def open_dispute(body: OpenDispute, caller: Caller, request: Request,
                       consistency: ReadYourWrites, idempotency_key: KeyHeader = None):
    require_role(caller, frozenset({"buyer"}))
    state, print_ = request.app.state, fingerprint(request, body)
    order = await asyncio.to_thread(state.orders.facts, body.order_id)
    if order is None:
        raise Problem(422, "ORDER_NOT_FOUND", f"order {body.order_id} is not known")
    if order.buyer_id != caller.id:
        raise Problem(403, "FORBIDDEN", "you are not the buyer of this order")
    correlation = correlation_id(request)
    command = commands.OpenDispute(order=order, item_id=body.item_id, reason=body.reason,
                                   request=body.request, request_amount=body.request_amount,
                                   description=body.description)
    by = Acting(actor_of(caller), state.clock(), correlation, idempotency_key or correlation)
    dispute_id, _ = state.disputes.dispute_ids_for_item(order.order_id, body.item_id)
    submission = Submission(dispute_id, command, by,
                            partial(answer, request=request, caller=caller, opened=True),
                            key=key_claim(caller, idempotency_key, print_, by.at), kept=kept)
    try:
        response = await written(request, submission, print_, partial(replay_answer, request, caller))
    except DomainError as exc:
        raise to_problem(exc) from None
    if response.status_code == 201:  # an order refund booked meanwhile may have missed it
        await _note_refunds_missed_at_opening(state, order, dispute_id)
    await consistency.after_command(request, response, dispute_id)
    return response


async def _note_refunds_missed_at_opening(state, order, dispute_id: UUID) -> None:
    """The opening is committed and acknowledged whatever happens here: a failure (the store
    away, a lost race) is logged, never turned into an error answer for a stored dispute."""
    try:
        await asyncio.to_thread(note_refunds_missed_at_opening, state.orders, state.disputes, order,
                                dispute_id, state.clock)
    except Exception as error:  # noqa: BLE001 (the answer is already decided: 201)
        log.warning("refunds_missed_at_opening_not_noted", dispute_id=str(dispute_id),
                    order_id=order.order_id, error=repr(error)[:300])


@router.get("/disputes/{dispute_id}", response_model=DisputeView, responses=DISPUTE_READ,
             tags=["disputes"])
async def get_dispute(dispute_id: UUID, caller: Caller, request: Request):
    """The ETag is the dispute's version: the tag a command's If-Match takes."""
    dispute = await dispute_to_read(request, dispute_id, caller)
    view = dispute_view(dispute, caller, request.app.state.settings.view_latest_messages)
    return conditional_json(request, view, etag=f'"{dispute.version}"')


for _topic in (negotiation, fulfilment, review, conversation, evidence, items):
    router.include_router(_topic.router)
