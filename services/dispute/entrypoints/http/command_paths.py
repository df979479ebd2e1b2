"""Straight to a command's route: `POST /v1/disputes/{id}/<action>` found by one dictionary
look-up instead of FastAPI's route matching.

FastAPI (0.165) matches an included router's routes twice per request, once to choose the
router and again inside it, with scope bookkeeping around every candidate: under load that
was about a third of the event loop's time on a command (py-spy). The commands on a dispute
have fixed paths, so their routes are looked up by (method, action) and handled exactly as
FastAPI hands over a route it matched (the route's effective context from its inclusion, so
its dependencies, body limit and error answers are FastAPI's own). Anything else (another
path or method, a dispute id that is not a canonical UUID, a root path) is routed by FastAPI.
The table is built from FastAPI's own view of the routes; if a FastAPI upgrade changes that
view, nothing is found and every request is routed by FastAPI as before.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import structlog
from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from starlette.types import ASGIApp, Receive, Scope, Send

from services.dispute.entrypoints.http.command_route import CANONICAL_UUID, CommandRoute

log = structlog.get_logger("dispute.api")
ON_DISPUTE = "/v1/disputes/{dispute_id}/"
PREFIX = "/v1/disputes/"
PLAIN_ACTION = re.compile(r"[a-z-]+")


class CommandPaths:
    """The app's router, with the commands on one dispute looked up first."""

    def __init__(self, app: ASGIApp, router: Any, routes: dict[tuple[str, str], Any]):
        self.app, self.router, self.routes = app, router, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._found(scope) if scope["type"] == "http" else None
        if found is None:
            return await self.app(scope, receive, send)
        context, dispute_id = found
        scope.setdefault("router", self.router)
        scope["endpoint"] = context.original_route.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), "dispute_id": dispute_id}
        scope["route"] = context.original_route
        fastapi_routing._get_fastapi_scope(scope)[fastapi_routing._FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        await context.original_route.handle(scope, receive, send)

    def _found(self, scope: Scope) -> tuple[Any, str] | None:
        path = scope["path"]
        if scope.get("root_path") or not path.startswith(PREFIX):
            return None
        dispute_id, _, action = path[len(PREFIX):].partition("/")
        context = self.routes.get((scope["method"], action))
        if context is None or not CANONICAL_UUID.fullmatch(dispute_id):
            return None
        return context, dispute_id


def install_command_paths(app: FastAPI) -> int:
    """Look the commands up first in `app`'s router (after every route is included); the
    number of commands found."""
    routes = command_contexts(app.router)
    if routes:
        app.router.middleware_stack = CommandPaths(app.router.middleware_stack, app.router, routes)
    else:
        log.warning("command_paths_not_found", reason="FastAPI's included routes look different")
    return len(routes)


def command_contexts(router: Any) -> dict[tuple[str, str], Any]:
    """(method, action) -> the effective route context of each command on one dispute whose
    only path parameter is the dispute id."""
    found: dict[tuple[str, str], Any] = {}
    included = getattr(fastapi_routing, "_IncludedRouter", None)
    if included is None or not hasattr(fastapi_routing, "_get_fastapi_scope"):
        return found
    for candidate in _effective(router.routes, included):
        route, path = candidate.original_route, getattr(candidate, "path", "")
        action = path[len(ON_DISPUTE):] if path.startswith(ON_DISPUTE) else ""
        if isinstance(route, CommandRoute) and PLAIN_ACTION.fullmatch(action):
            for method in route.methods or ():
                found.setdefault((method, action), candidate)
    return found


def _effective(routes: list, included: Any) -> Iterator[Any]:
    """FastAPI's effective route contexts under the included routers of `routes`, in order."""
    for route in routes:
        if isinstance(route, included):
            for candidate in route.effective_candidates():
                if isinstance(candidate, included):
                    yield from _effective([candidate], included)
                elif hasattr(candidate, "original_route"):
                    yield candidate
