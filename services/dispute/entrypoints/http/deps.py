"""What every route needs: the principal, the clock, the party checks, If-Match.

A buyer or seller who is not a party to a dispute learns nothing about it, not even that it
exists: reads and commands answer them exactly as for a dispute that does not exist (404
DISPUTE_NOT_FOUND). Commands check this in `CommandRoute` (command_route.py), before the body is read, so a
stranger's invalid or large body changes nothing in that answer.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Callable
from uuid import UUID

from fastapi import Depends, Header, Request

from services.common.auth import AuthError, Principal
from services.common.ids import uuid4
from services.common.problems import Problem
from services.dispute.entrypoints.http.consistency import ProjectionWait, ReadYourWrites
from services.dispute.entrypoints.http.errors import to_problem
from services.dispute.application.disputes import dispute_not_found, may_act_on
from services.dispute.domain import Actor, DomainError, Role

PARTIES = frozenset({"buyer", "seller"})
OPERATOR = frozenset({"operator"})


async def principal(request: Request,
                    authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller, verified once per request (CommandRoute may have done it already)."""
    known = getattr(request.state, "principal", None)
    if known is None:
        known = request.state.principal = await verified(request, authorization)
    return known


async def verified(request: Request, authorization: str | None) -> Principal:
    tokens = request.app.state.tokens
    try:
        if getattr(tokens, "may_block", True):  # fetching a JWKS would stall every request
            return await asyncio.to_thread(tokens.read, authorization)
        return tokens.read(authorization)
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


CORRELATION_ID = re.compile(r"[A-Za-z0-9._:/-]{1,128}")


def correlation_id(request: Request) -> str:
    """The caller's X-Correlation-ID when it is a plain token of at most 128 characters, else a
    new one: it travels in every event and downstream store, so it must not carry anything a
    consumer could choke on."""
    given = request.headers.get("x-correlation-id", "")
    return given if CORRELATION_ID.fullmatch(given) else str(uuid4())


def actor_of(caller: Principal) -> Actor:
    return Actor(Role(caller.role), caller.id)


def require_role(caller: Principal, roles: frozenset[str]) -> None:
    if caller.role not in roles:
        raise Problem(403, "FORBIDDEN", f"a {caller.role} may not do this", role=caller.role)


async def dispute_to_read(request: Request, dispute_id: UUID, caller: Principal):
    """The dispute, for any role; strangers learn nothing, not even that it exists (404)."""
    dispute = await run_domain(request.app.state.disputes.get_dispute, dispute_id)
    if not may_act_on(dispute.buyer_id, dispute.seller_id, actor_of(caller)):
        raise to_problem(dispute_not_found(dispute_id))
    return dispute


async def refuse_strangers(request: Request) -> None:
    """401 without a valid token; 404 for a buyer or seller on a dispute that does not exist
    or is not theirs. Reads only the path, the Authorization header and the dispute's parties
    (from the writer's memory, else its first event: they never change)."""
    try:
        dispute_id = UUID(str(request.path_params.get("dispute_id")))
    except ValueError:
        return  # the route's own validation answers a malformed id, the same for everyone
    caller = await principal(request, request.headers.get("authorization"))
    if caller.role in PARTIES:
        writer = request.app.state.writer.for_dispute(dispute_id)
        buyer_id, seller_id = (writer.parties.get(dispute_id)
                               or await run_domain(writer.parties_of, dispute_id))
        if not may_act_on(buyer_id, seller_id, actor_of(caller)):
            raise to_problem(dispute_not_found(dispute_id))


MAX_VERSION_DIGITS = 18


def if_match_version(if_match: str | None) -> int | None:
    """The version an If-Match names (`"3"`, `W/"3"`); -1, never matching (412), for other
    tags, a list of tags, or more digits than any version has (int() of thousands of digits
    raises)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    plain = tag.isascii() and tag.isdigit() and len(tag) <= MAX_VERSION_DIGITS
    return int(tag) if plain else -1


@dataclass(frozen=True)
class CommandCall:
    """One POST on a dispute: who, on which dispute, with which key and precondition."""

    request: Request
    caller: Principal
    dispute_id: UUID
    if_match: int | None
    idempotency_key: str | None
    correlation_id: str
    consistency: ProjectionWait


async def command_call(dispute_id: UUID, request: Request, caller: Caller, consistency: ReadYourWrites,
                 if_match: Annotated[str | None, Header()] = None,
                 idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
                 ) -> CommandCall:
    return CommandCall(request=request, caller=caller, dispute_id=dispute_id,
                       if_match=if_match_version(if_match), idempotency_key=idempotency_key,
                       correlation_id=correlation_id(request), consistency=consistency)


Call = Annotated[CommandCall, Depends(command_call)]
