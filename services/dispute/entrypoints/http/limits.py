"""The dispute API's limits in front of its routes (services/common does the work):

- bodies: 1 MB (`DISPUTE_MAX_BODY_BYTES`), except an evidence upload (one file of up to
  10 MB plus the form around it); over the limit is 413 PAYLOAD_TOO_LARGE, on the evidence
  upload 422 EVIDENCE_REJECTED, the same answer as a file the evidence store finds too big;
- writes: a bearer token before any body is read (401), then a token bucket per principal
  (429 RATE_LIMITED with Retry-After; `DISPUTE_RATE_LIMIT_PER_SECOND`, `..._BURST`).
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.requests import Request

from services.common.auth import Principal
from services.common.body_limit import Limit, limit_bodies
from services.common.write_guard import guard_writes
from services.dispute.entrypoints.http.deps import principal
from services.dispute.adapters.evidence_store import MAX_BYTES as EVIDENCE_MAX_BYTES

FORM_OVERHEAD = 64 * 1024
EVIDENCE_UPLOAD = re.compile(r"^/v1/disputes/[^/]+/evidence/?$")
EVIDENCE_LIMIT = Limit(EVIDENCE_MAX_BYTES + FORM_OVERHEAD, 422, "EVIDENCE_REJECTED")


def body_limit_for(default_bytes: int):
    default = Limit(default_bytes)

    def limit_for(method: str, path: str) -> Limit:
        return EVIDENCE_LIMIT if method == "POST" and EVIDENCE_UPLOAD.match(path) else default

    return limit_for


async def authenticate(request: Request) -> Principal:
    """The same principal the routes see (deps.principal, verified once per request), from
    the headers alone."""
    return await principal(request, request.headers.get("authorization"))


def install_limits(app: FastAPI) -> None:
    """Outermost first: the body limit, then the write guard, then the app."""
    settings = app.state.settings
    # The local sign-in (center.py) is the one write a stranger may make, and only in local mode.
    anonymous = frozenset({"/v1/local/sign-in"}) if settings.local_mode else frozenset()
    guard_writes(app, authenticate, settings.rate_limit_per_second, settings.rate_limit_burst,
                 anonymous=anonymous)
    limit_bodies(app, limit_for=body_limit_for(settings.max_body_bytes))
