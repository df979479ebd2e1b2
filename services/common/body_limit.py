"""A limit on every request body, for every HTTP service: a declared Content-Length over the
limit is refused before anything is read; a body streamed without one (chunked) is counted
as it arrives and cut off as soon as it passes the limit.

The answer is 413 PAYLOAD_TOO_LARGE (a route may name another status and code, as the
dispute API does for an evidence upload), as application/problem+json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import problem_response

ONE_MB = 1024 * 1024
# A Content-Length longer than this is over any limit: never hand int() a huge digit string.
MAX_LENGTH_DIGITS = 18


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    status: int = 413
    code: str = "PAYLOAD_TOO_LARGE"


LimitFor = Callable[[str, str], Limit]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: Limit):
        super().__init__(limit.status, f"the request body is larger than {limit.max_bytes} bytes")
        self.limit = limit


async def body_too_large(_: Request, exc: Exception):
    assert isinstance(exc, BodyTooLarge)  # registered for BodyTooLarge only
    return problem_response(exc.limit.status, exc.limit.code, str(exc.detail),
                            max_bytes=exc.limit.max_bytes)


def declared_length(scope: Scope) -> int | None:
    """The Content-Length, when it is a plain number; a longer one than any limit counts as
    'too large' without being converted."""
    declared = Headers(scope=scope).get("content-length", "")
    if not (declared.isascii() and declared.isdigit()):
        return None
    return int(declared) if len(declared) <= MAX_LENGTH_DIGITS else 10 ** MAX_LENGTH_DIGITS


class BodyLimit:
    """Pure ASGI: wraps `receive`, so no body reaches the app past the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = ONE_MB, limit_for: LimitFor | None = None):
        self.app, self.default = app, Limit(max_bytes)
        self.limit_for = limit_for or (lambda method, path: self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["method"], scope["path"])
        declared = declared_length(scope)
        if declared is not None and declared > limit.max_bytes:
            return await self._refuse(limit, scope, receive, send)
        started = False

        async def counted_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _counted(receive, limit), counted_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(limit, scope, receive, send)

    @staticmethod
    async def _refuse(limit: Limit, scope: Scope, receive: Receive, send: Send) -> None:
        response = await body_too_large(Request(scope), BodyTooLarge(limit))
        await response(scope, receive, send)


def _counted(receive: Receive, limit: Limit) -> Receive:
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit.max_bytes:
            raise BodyTooLarge(limit)
        return message

    return limited


def limit_bodies(app: FastAPI, max_bytes: int = ONE_MB, limit_for: LimitFor | None = None) -> None:
    """The outermost layer of `app`: add it after every other middleware."""
    app.add_middleware(BodyLimit, max_bytes=max_bytes, limit_for=limit_for)
    app.add_exception_handler(BodyTooLarge, body_too_large)
