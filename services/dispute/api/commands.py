"""Running one command on a dispute: role and party, Idempotency-Key, If-Match /
expected_version, one domain call through the application, and the answer.

Answers: 200 with the dispute view; 201 for a command that creates an item (offer,
evidence, message, appeal, evidence request) with `{<item kind>: item, "dispute": view}`
and the item's Location. Every answer carries the new version as ETag.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.common.problems import Problem
from services.dispute.api.deps import CommandCall, dispute_to_act_on
from services.dispute.api.errors import to_problem
from services.dispute.api.idempotency import fingerprint, idempotent
from services.dispute.api.views import dispute_view
from services.dispute.context import command_context
from services.dispute.domain import Actor, DisputePolicy, DomainError, Role


@dataclass(frozen=True)
class Acting:
    """What a domain call needs besides its own arguments."""

    actor: Actor
    at: datetime
    policy: DisputePolicy


@dataclass(frozen=True)
class Created:
    """The item a command creates: its kind in the answer, its collection in the URL."""

    kind: str
    collection: str
    item_id: str
    pick: Callable[[Any], Any]


Act = Callable[[Any, Acting], Any]


async def run_command(call: CommandCall, *, roles: frozenset[str], act: Act,
                      body: BaseModel | None, payload: Any = None,
                      created: Created | None = None) -> JSONResponse:
    await dispute_to_act_on(call, roles)
    return await run_checked_command(call, act=act, body=body, payload=payload, created=created)


async def run_checked_command(call: CommandCall, *, act: Act, body: BaseModel | None,
                              payload: Any = None, created: Created | None = None) -> JSONResponse:
    """`run_command` after the role and party checks (for routes that check first)."""
    expected = _expected_version(call, getattr(body, "expected_version", None))
    print_ = fingerprint(call.request, body if payload is None else payload)
    response = await idempotent(call.request, call.caller, call.idempotency_key, print_,
                                lambda: _execute(call, act, expected, created))
    await call.consistency.after_command(call.request, response)
    return response


async def _execute(call: CommandCall, act: Act, expected: int | None,
                   created: Created | None) -> JSONResponse:
    state = call.request.app.state
    acting = Acting(Actor(Role(call.caller.role), call.caller.id), state.clock(),
                    state.disputes.policy)

    def run():
        with command_context(call.correlation_id, call.idempotency_key or call.correlation_id):
            return state.disputes.execute(call.dispute_id, acting.at,
                                          lambda dispute: act(dispute, acting), expected)
    try:
        dispute, _ = await asyncio.to_thread(run)
    except DomainError as exc:
        raise _problem(exc, call) from None
    return answer(dispute, call, created)


def answer(dispute, call: CommandCall, created: Created | None) -> JSONResponse:
    view = dispute_view(dispute, call.caller)
    headers = {"ETag": f'"{dispute.version}"'}
    if created is None:
        return JSONResponse(view.model_dump(mode="json"), headers=headers)
    headers["Location"] = f"/v1/disputes/{dispute.id}/{created.collection}/{created.item_id}"
    item = created.pick(view)
    body = {created.kind: item.model_dump(mode="json"), "dispute": view.model_dump(mode="json")}
    return JSONResponse(body, status_code=201, headers=headers)


def _expected_version(call: CommandCall, in_body: int | None) -> int | None:
    if call.if_match is not None and in_body is not None and call.if_match != in_body:
        raise Problem(422, "VALIDATION_FAILED", "If-Match and expected_version disagree")
    return call.if_match if call.if_match is not None else in_body


def _problem(error: DomainError, call: CommandCall) -> Problem:
    """A stale If-Match is 412; a stale expected_version or a lost race stays 409."""
    problem = to_problem(error)
    if (error.code == "CONCURRENCY_CONFLICT" and call.if_match is not None
            and "current_version" in error.details):
        problem.status = 412
    return problem
