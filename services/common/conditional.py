"""Conditional reads (RFC 9110 section 13): every read answers with an `ETag`, and a request
whose `If-None-Match` names it gets `304 Not Modified` without a body.

The tag is strong and names the representation this caller receives: a given one (a dispute's
version, the same tag If-Match takes), or else a digest of the JSON body. Answers are private
(`Cache-Control: private, no-cache`): a view depends on who reads it, and a cache must ask again.
They carry `Vary: Authorization`: two principals read different views under one tag (a
dispute's version), so a cache (a browser signed in as one, then another) must never answer
one principal's request with the body it kept for another's (it did: an operator's internal
note reached the buyer signed in after them in the same browser).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

CACHE_CONTROL = "private, no-cache"
VARY = "Authorization"
ETAG_HEADER = {"ETag": {"description": "names this representation; send it back as "
                        "If-None-Match to get 304 when nothing changed", "required": True,
                        "schema": {"type": "string"}}}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified: If-None-Match named the current ETag",
                      "headers": ETAG_HEADER}}


def digest_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """The weak comparison If-None-Match uses: `*`, or any listed tag, W/ or not."""
    if if_none_match is None:
        return False
    wanted = etag.removeprefix("W/")
    listed = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag == "*" or tag == wanted for tag in listed)


def conditional_json(request: Request, content: Any, etag: str | None = None,
                     status_code: int = 200) -> Response:
    """`content` as JSON with its ETag, or 304 when the request's If-None-Match names it."""
    body = json.dumps(jsonable_encoder(content), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()
    tag = etag or digest_tag(body)
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": VARY}
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")
