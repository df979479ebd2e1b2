"""The route class of the commands on one dispute: strangers refused before the body is read,
and a short way through for a well-formed request.

FastAPI's dependency graph (solve_dependencies, header and query parameters one by one) cost
more CPU per command than the command itself. A command endpoint takes the same few things
every time (the body model, the `Call`, plain string path parameters), so a request whose
parts are unremarkable (canonical dispute id, no query string, a JSON body that validates,
an Idempotency-Key within its length) is read by hand, the same way FastAPI reads it
(json.loads, then the route's own body field, from attributes). Anything else (a body that
does not validate, another content type, `?wait=true`, an odd header) goes the whole way
through FastAPI, so every refusal keeps its answer: the short way never answers an error
FastAPI's validation would have answered.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Awaitable, Callable
from uuid import UUID

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.common.problems import problem_response
from services.dispute.entrypoints.http.consistency import projection_wait
from services.dispute.entrypoints.http.deps import (CommandCall, command_call, correlation_id,
                                                   if_match_version, principal, refuse_strangers)

CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_KEY_CHARS = 255  # Idempotency-Key: Header(min_length=1, max_length=255) in command_call
READS = ("GET", "HEAD", "OPTIONS")


class CommandRoute(APIRoute):
    """A route on one dispute whose unsafe methods refuse strangers before FastAPI reads and
    validates the body (it does that before any dependency runs)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handle = super().get_route_handler()
        shortcut = Shortcut.of(self.dependant, self.endpoint)

        async def strangers_first(request: Request) -> Response:
            if request.method in READS:
                return await handle(request)
            gate: CommandsInFlight | None = getattr(request.app.state, "commands_in_flight", None)
            if gate is None:
                return await command(request)
            return await gate.admit(functools.partial(command, request))

        async def command(request: Request) -> Response:
            await refuse_strangers(request)
            if shortcut is not None:
                answered = await shortcut.answer(request)
                if answered is not None:
                    return answered
            return await handle(request)

        return strangers_first


class CommandsInFlight:
    """At most `limit` commands at once in this process (0: no bound). One more is answered
    503 SERVICE_UNAVAILABLE with Retry-After at once, before its body or token is read:
    nothing was done, so a retry with the same Idempotency-Key is safe. Under an overload the
    commands waiting for the writer would otherwise grow without bound, and with them the
    process's memory (the dispute API passed 150 MB at 1,000 commands/s offered, ~12 KB a
    waiting command) and every answer's wait (seconds), until clients time out anyway."""

    RETRY_AFTER_SECONDS = 1

    def __init__(self, limit: int):
        self.limit, self.count = limit, 0

    def full(self) -> bool:
        return 0 < self.limit <= self.count

    async def admit(self, command: Callable[[], Awaitable[Response]]) -> Response:
        if self.full():
            return self.refusal()
        self.count += 1
        try:
            return await command()
        finally:
            self.count -= 1

    def refusal(self) -> Response:
        response = problem_response(503, "SERVICE_UNAVAILABLE", "too many commands in progress; "
                                    "retry after Retry-After", retry_after_seconds=self.RETRY_AFTER_SECONDS)
        response.headers["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
        return response


class Shortcut:
    """The endpoint called with its arguments read by hand, for routes whose parameters are
    only: one JSON body, the `Call`, string path parameters besides `dispute_id`."""

    def __init__(self, endpoint: Callable[..., Any], body: Any, call_name: str, paths: tuple[str, ...]):
        self.endpoint, self.body, self.call_name, self.paths = endpoint, body, call_name, paths

    @classmethod
    def of(cls, dependant: Dependant, endpoint: Callable[..., Any]) -> Shortcut | None:
        if (dependant.query_params or dependant.header_params or dependant.cookie_params
                or len(dependant.body_params) != 1 or len(dependant.dependencies) != 1
                or dependant.dependencies[0].call is not command_call or _special(dependant)):
            return None
        body = dependant.body_params[0]
        if getattr(body.field_info, "media_type", "application/json") != "application/json" \
                or not all(_plain_str(p) for p in dependant.path_params):
            return None  # a form or file upload, or a typed path parameter: FastAPI reads it
        paths = tuple(p.name for p in dependant.path_params)
        return cls(endpoint, body, str(dependant.dependencies[0].name), paths)

    async def answer(self, request: Request) -> Response | None:
        """The endpoint's answer, or None when FastAPI must read this request itself."""
        call = await _plain_call(request)
        if call is None:
            return None
        body = await self._body(request)
        if body is _UNREADABLE:
            return None
        values = {self.body.name: body, self.call_name: call}
        values.update({name: request.path_params[name] for name in self.paths})
        answered = await self.endpoint(**values)
        if not isinstance(answered, Response):  # never hand a command that ran to FastAPI again
            raise TypeError(f"{self.endpoint.__name__} must answer with a Response (run_command's)")
        return answered

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return _UNREADABLE if self.body.field_info.is_required() else None
        if not _json_content(request.headers.get("content-type")):
            return _UNREADABLE
        try:
            value = json.loads(raw)
        except ValueError:
            return _UNREADABLE
        validated, errors = self.body.validate(value, {}, loc=("body",))
        return _UNREADABLE if errors else validated


_UNREADABLE = object()


async def _plain_call(request: Request) -> CommandCall | None:
    """What `command_call` gives, when nothing about the request needs FastAPI's reading."""
    dispute_id = str(request.path_params.get("dispute_id", ""))
    key = request.headers.get("idempotency-key")
    if (request.scope.get("query_string") or not CANONICAL_UUID.fullmatch(dispute_id)
            or (key is not None and not 1 <= len(key) <= MAX_KEY_CHARS)):
        return None
    caller = await principal(request, request.headers.get("authorization"))
    return CommandCall(request=request, caller=caller, dispute_id=UUID(dispute_id),
                       if_match=if_match_version(request.headers.get("if-match")),
                       idempotency_key=key, correlation_id=correlation_id(request),
                       consistency=await projection_wait(False, request.headers.get("prefer")))


def _json_content(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";")[0].strip().lower() == "application/json"


def _plain_str(field: Any) -> bool:
    return field.name == "dispute_id" or field.field_info.annotation is str


def _special(dependant: Dependant) -> bool:
    return any((dependant.request_param_name, dependant.response_param_name,
                dependant.background_tasks_param_name, dependant.websocket_param_name,
                dependant.http_connection_param_name, dependant.security_scopes_param_name))


def bounded(endpoint: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A command endpoint outside CommandRoute (opening a dispute) under the same bound; it
    must take `request: Request`."""

    @functools.wraps(endpoint)
    async def gated(**kwargs: Any) -> Any:
        gate: CommandsInFlight | None = getattr(kwargs["request"].app.state, "commands_in_flight", None)
        if gate is None:
            return await endpoint(**kwargs)
        return await gate.admit(functools.partial(endpoint, **kwargs))

    return gated
