"""Idempotency-Key on every POST (DOMAIN.md, Stripe semantics), scoped per principal.

The first successful (2xx) answer under a key is stored (status, body, Location, ETag) and
returned again, unchanged and without running anything, for a retry with the same request;
the same key with another request is refused. Refusals (4xx) are not stored: they recorded
nothing, so a retry runs again. The request is identified by method, path and its parsed
body in canonical JSON (for uploads: the form fields and the file's sha256).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel

from services.common.auth import Principal
from services.common.problems import Problem
from services.dispute.idempotency import Recorded, principal_key

KEPT_HEADERS = ("location", "etag")


def fingerprint(request: Request, payload: BaseModel | dict | None) -> str:
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method} {request.url.path}\n{canonical}"
    return hashlib.sha256(text.encode()).hexdigest()


async def idempotent(request: Request, caller: Principal, key: str | None, print_: str,
                     produce: Callable[[], Awaitable[Response]]) -> Response:
    """Run `produce` once per (principal, key); replay its stored answer afterwards."""
    if key is None:
        return await produce()
    store, scope = request.app.state.idempotency, principal_key(caller.role, caller.id)
    token, earlier = await asyncio.to_thread(store.claim, scope, key, print_,
                                             request.app.state.clock())
    if earlier is not None:
        return _replay(earlier, print_)
    try:
        response = await produce()
    except BaseException:
        await asyncio.to_thread(store.release, scope, key, token)
        raise
    if 200 <= response.status_code < 300:
        headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
        await asyncio.to_thread(store.complete, scope, key, token, response.status_code,
                                response.media_type, headers, bytes(response.body).decode())
    else:
        await asyncio.to_thread(store.release, scope, key, token)
    return response


def _replay(earlier: Recorded, print_: str) -> Response:
    if earlier.fingerprint != print_:
        raise Problem(422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD",
                      "this Idempotency-Key was used for a different request")
    if earlier.status_code is None:
        raise Problem(409, "CONCURRENCY_CONFLICT",
                      "a request with this Idempotency-Key is still being processed; retry")
    return Response(content=earlier.body, status_code=earlier.status_code,
                    media_type=earlier.media_type,
                    headers={**earlier.headers, "Idempotent-Replayed": "true"})
