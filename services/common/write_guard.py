"""Before any write's body is read: who is writing, and is it within its rate.

A pure ASGI layer in front of every POST, PUT, PATCH and DELETE: a request without a valid
bearer token is answered 401 from its headers alone (an anonymous 9 MB upload is never
read), and a principal past its token bucket gets 429 RATE_LIMITED with `Retry-After`.
Reads pass untouched; the routes still check the token themselves (this is a gate, not the
source of the principal).
"""

from __future__ import annotations

import asyncio
import inspect
import math
from typing import Awaitable, Callable

import structlog
from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.auth import Principal
from services.common.problems import Problem, problem_response
from services.common.rate_limit import RateLimiter

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A coroutine function is awaited (it knows when verifying may block); a plain one runs in
# a thread: verifying may fetch a JWKS, a blocking call that would stall the loop.
Authenticate = Callable[[Request], Principal] | Callable[[Request], Awaitable[Principal]]
log = structlog.get_logger("http")


class WriteGuard:
    def __init__(self, app: ASGIApp, authenticate: Authenticate, limiter: RateLimiter,
                 anonymous: frozenset[str] = frozenset()):
        self.app, self.authenticate, self.limiter = app, authenticate, limiter
        self.anonymous = anonymous

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._guarded(scope):
            return await self.app(scope, receive, send)
        refusal = await self._refusal(Request(scope))
        if refusal is not None:
            return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    def _guarded(self, scope: Scope) -> bool:
        return (scope["type"] == "http" and scope["method"] in WRITES
                and scope["path"] not in self.anonymous)

    async def _refusal(self, request: Request):
        try:
            if inspect.iscoroutinefunction(self.authenticate):
                caller = await self.authenticate(request)
            else:
                caller = await asyncio.to_thread(self.authenticate, request)
        except Problem as problem:
            return problem_response(problem.status, problem.code, problem.detail, **problem.extra)
        wait = self.limiter.take((caller.role, caller.id))
        if not wait:
            return None
        retry_after = max(1, math.ceil(wait))
        log.warning("rate_limited", role=caller.role, principal=caller.id, path=request.url.path)
        response = problem_response(429, "RATE_LIMITED", "too many requests; retry later",
                                    retry_after_seconds=retry_after)
        response.headers["Retry-After"] = str(retry_after)
        return response


def guard_writes(app: FastAPI, authenticate: Authenticate, rate: float, burst: int,
                 anonymous: frozenset[str] = frozenset()) -> RateLimiter:
    """Put the guard in front of `app` (inside any body limit added after it); `anonymous`:
    the exact paths a write needs no token for (the local sign-in, in local mode only)."""
    limiter = RateLimiter(rate, burst)
    app.state.rate_limiter = limiter
    app.add_middleware(WriteGuard, authenticate=authenticate, limiter=limiter,
                       anonymous=anonymous)
    return limiter
