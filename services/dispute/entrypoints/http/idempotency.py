"""Idempotency-Key on every POST (DOMAIN.md, Stripe semantics), scoped per principal.

The command writer (application/writer.py) looks the key up before the command runs and
records it in the transaction of the command's events: a key is recorded exactly when its
command's events are, so a retry after a failed batch runs the command again, and a retry
after a success (in this process or another) replays.

The first successful (2xx) answer under a key is kept and returned again, unchanged and
without running anything, for a retry with the same request. What is kept is small: status,
Location, ETag and a reference (dispute id, version, created item); the replay rebuilds the
answer from the dispute as it stood at that version, for the same principal, so a key never
stores a copy of the view (150 messages once made 59 MB of keys). Rows written before this
change still hold whole bodies and are replayed as they are. The same key with another
request is refused. Refusals (4xx) are not stored: they recorded nothing, so a retry runs
again. The request is identified by method, path and its parsed body in
canonical JSON (for uploads: the form fields and the file's sha256).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel

from services.common.auth import Principal
from services.common.problems import Problem
from services.dispute.adapters.idempotency_store import KeyClaim, Recorded, principal_key
from services.dispute.application.batch import Kept, Submission
from services.dispute.application.writer import KeyAlreadyUsed

KEPT_HEADERS = ("location", "etag")
REPLAY_REF = "application/vnd.dispute.replay-ref+json"
Rebuild = Callable[[dict], Awaitable[Response]]


def fingerprint(request: Request, payload: BaseModel | dict | None) -> str:
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method} {request.url.path}\n{canonical}"
    return hashlib.sha256(text.encode()).hexdigest()


def key_claim(caller: Principal, key: str | None, print_: str, at: datetime) -> KeyClaim | None:
    """What the writer looks up, and records with the command's events, for this key."""
    if key is None:
        return None
    return KeyClaim(principal_key(caller.role, caller.id), key, print_, at)


async def written(request: Request, submission: Submission, print_: str,
                  rebuild: Rebuild) -> Response:
    """The writer's answer to `submission`, or the replay of the answer its key got first."""
    try:
        return await request.app.state.writer.submit(submission)
    except KeyAlreadyUsed as used:
        return await replay(used.earlier, print_, rebuild)


def kept(response: Response) -> Kept:
    """What a key keeps of a 2xx answer: status, media type, Location and ETag, and the
    answer's replay reference (or else its body)."""
    headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    media_type, body = _kept(response)
    return response.status_code, media_type, headers, body


def _kept(response: Response) -> tuple[str, str]:
    """(media type, stored body): the answer's replay reference, or else its body."""
    ref = getattr(response, "replay_ref", None)
    if ref is not None:
        return REPLAY_REF, json.dumps(ref)
    return str(response.media_type), bytes(response.body).decode()


async def replay(earlier: Recorded, print_: str, rebuild: Rebuild) -> Response:
    if earlier.fingerprint != print_:
        raise Problem(422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD",
                      "this Idempotency-Key was used for a different request")
    if earlier.status_code is None:
        raise Problem(409, "CONCURRENCY_CONFLICT",
                      "a request with this Idempotency-Key is still being processed; retry")
    if earlier.media_type == REPLAY_REF:
        response = await rebuild(json.loads(earlier.body or "{}"))
        response.headers["Idempotent-Replayed"] = "true"
        return response
    return Response(content=earlier.body, status_code=earlier.status_code,
                    media_type=earlier.media_type,
                    headers={**earlier.headers, "Idempotent-Replayed": "true"})
