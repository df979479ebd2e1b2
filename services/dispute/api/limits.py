"""Request body limits: 1 MB for every body, except an evidence upload (one file of up to
10 MB plus the form around it). A declared Content-Length over the limit is refused before
anything is read; a body streamed without one is cut off as soon as it passes the limit.

Over the limit is 413 PAYLOAD_TOO_LARGE; on the evidence upload it is 422 EVIDENCE_REJECTED,
the same answer as a file the evidence store finds too big.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import problem_response
from services.dispute.evidence_store import MAX_BYTES as EVIDENCE_MAX_BYTES

BODY_MAX_BYTES = 1024 * 1024
FORM_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    status: int
    code: str


DEFAULT = Limit(BODY_MAX_BYTES, 413, "PAYLOAD_TOO_LARGE")
EVIDENCE_UPLOAD = (re.compile(r"^/v1/disputes/[^/]+/evidence/?$"),
                   Limit(EVIDENCE_MAX_BYTES + FORM_OVERHEAD, 422, "EVIDENCE_REJECTED"))


class BodyTooLarge(HTTPException):
    def __init__(self, limit: Limit):
        super().__init__(limit.status, f"the request body is larger than {limit.max_bytes} bytes")
        self.limit = limit


async def body_too_large(_: Request, exc: BodyTooLarge):
    return problem_response(exc.limit.status, exc.limit.code, str(exc.detail),
                            max_bytes=exc.limit.max_bytes)


def limit_for(method: str, path: str) -> Limit:
    pattern, limit = EVIDENCE_UPLOAD
    return limit if method == "POST" and pattern.match(path) else DEFAULT


class BodyLimit:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = limit_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit.max_bytes:
            response = await body_too_large(Request(scope), BodyTooLarge(limit))
            return await response(scope, receive, send)
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit.max_bytes:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
