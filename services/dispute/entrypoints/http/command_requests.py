"""Running one command on a dispute over HTTP: the role, Idempotency-Key, If-Match /
expected_version, the command submitted to the writer (application/writer.py: batched with
concurrent commands, answered once its batch committed), and the answer.

Answers: 200 with the dispute view; 201 for a command that creates an item (offer,
evidence, message, appeal, evidence request) with `{<item kind>: item, "dispute": view}`
and the item's Location. Every answer carries the new version as ETag.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.common.auth import Principal
from services.common.problems import Problem
from services.dispute.application.batch import Submission
from services.dispute.application.commands import Acting, Command
from services.dispute.entrypoints.http.deps import CommandCall, actor_of, require_role, run_domain
from services.dispute.entrypoints.http.errors import to_problem
from services.dispute.entrypoints.http.idempotency import fingerprint, written, key_claim, kept
from services.dispute.entrypoints.http.views import dispute_view_json
from services.dispute.domain import DomainError


# Where each kind of created item sits in the dispute view, and the field naming it
# (None: the view holds only the current one).
ITEMS = {"offer": ("offers", "offer_id"), "evidence": ("evidence", "evidence_id"),
         "message": ("messages", "message_id"), "appeal": ("appeals", "appeal_id"),
         "evidence_request": ("evidence_request", None)}


@dataclass(frozen=True)
class Created:
    """The item a command creates: its kind in the answer, its collection in the URL."""

    kind: str
    collection: str
    item_id: str

    def pick(self, view: Any) -> Any:
        attribute, key = ITEMS[self.kind]
        found = getattr(view, attribute)
        return found if key is None else next(i for i in found if getattr(i, key) == self.item_id)


async def run_command(call: CommandCall, command: Command, *, roles: frozenset[str],
                      body: BaseModel | None, payload: Any = None,
                      created: Created | None = None) -> Response:
    """Run one named command for this call (role checked here; the party check, once, in the
    use case), at most once per Idempotency-Key, and answer with the dispute after it."""
    require_role(call.caller, roles)
    expected = _expected_version(call, getattr(body, "expected_version", None))
    print_ = fingerprint(call.request, body if payload is None else payload)
    by = Acting(actor_of(call.caller), call.request.app.state.clock(), call.correlation_id,
                call.idempotency_key or call.correlation_id)
    submission = Submission(call.dispute_id, command, by,
                            partial(answer, request=call.request, caller=call.caller, created=created),
                            expected_version=expected, kept=kept,
                            key=key_claim(call.caller, call.idempotency_key, print_, by.at))
    try:
        response = await written(call.request, submission, print_,
                                 partial(replay_answer, call.request, call.caller))
    except DomainError as exc:
        raise _problem(exc, call) from None
    await call.consistency.after_command(call.request, response)
    return response


def answer(dispute, request: Request, caller: Principal, created: Created | None = None,
           opened: bool = False) -> Response:
    """The view (201 with Location when `opened`), or {item kind: item, "dispute": view} for a
    created item; `replay_ref` is what an idempotent replay needs to give it again. Written
    straight to JSON by pydantic (one pass; it runs in the writer's thread for every command)."""
    view, body = dispute_view_json(dispute, caller, request.app.state.settings.view_latest_messages)
    headers, status = {"ETag": f'"{dispute.version}"'}, 200
    if opened:
        headers["Location"], status = f"/v1/disputes/{dispute.id}", 201
    if created is not None:
        headers["Location"] = f"/v1/disputes/{dispute.id}/{created.collection}/{created.item_id}"
        item = created.pick(view).model_dump_json().encode()
        body, status = b'{"%s":%s,"dispute":%s}' % (created.kind.encode(), item, body), 201
    response = Response(body, status_code=status, headers=headers, media_type="application/json")
    ref = {"dispute_id": str(dispute.id), "version": dispute.version, "opened": opened,
           "created": created and asdict(created)}
    response.replay_ref = ref  # type: ignore[attr-defined]
    return response


async def replay_answer(request: Request, caller: Principal, ref: dict) -> Response:
    """The answer a command gave, rebuilt from the dispute as it stood right after it."""
    dispute = await run_domain(request.app.state.disputes.get_dispute, UUID(ref["dispute_id"]),
                               ref["version"])
    created = Created(**ref["created"]) if ref["created"] else None
    return answer(dispute, request, caller, created, ref["opened"])


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
