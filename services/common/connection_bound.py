"""A bound on the connections one API process holds open: uvicorn's `limit_concurrency`, with
its refusal answered the way every other refusal of ours is (a problem document, Retry-After).

Every open connection costs the process memory whether or not it carries a request (uvicorn's
protocol, transport and parser, ~8 kB measured idle), and an open-loop client that outruns the
process opens a new one for each request it is still waiting on: at 2,000 requests/s offered
the dispute API held ~1,800 connections and its RSS grew by ~20 MB, past the 150 MB target.
With the bound, once `limit` connections (or requests) are open, a request is answered 503 at
once, before the application reads anything, and its connection is closed, so the connections
stay near `limit` whatever the offered rate. Nothing was done, so a retry (with the same
Idempotency-Key) is safe.

uvicorn answers that 503 itself, in plain text, from `_start_asgi_task` (uvicorn is pinned
exactly: tests/component/test_connection_bound.py runs a real server against it). A server may
give its protocol a refusal of its own (`bounded_options(limit, refusal)`): services/common/http.py
has it counted in the app's HTTP metrics, as the app's own answers are.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.access_log import AccessLog

RETRY_AFTER_SECONDS = 1
PROBES = frozenset({"/health", "/healthz"})
"""Liveness probes, answered past the bound. Not `/readyz`: a saturated process refusing it is
the load shedding readiness is for; not `/metrics`: a scrape is no reason to restart, and it
costs the most of them."""
UVICORN_REFUSAL_LOG = "Exceeded concurrency limit."  # uvicorn's warning per refusal: ours is the access line
_BODY = json.dumps({"type": "urn:problem:SERVICE_UNAVAILABLE", "title": "Service unavailable",
                    "status": 503, "code": "SERVICE_UNAVAILABLE",
                    "detail": "too many connections open; retry after Retry-After",
                    "retry_after_seconds": RETRY_AFTER_SECONDS}).encode()
_HEADERS = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(_BODY)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"connection", b"close")]


async def refuse_too_many_connections(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


too_many_connections = AccessLog(refuse_too_many_connections)


class ConnectionBound(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools), its refusal over `limit_concurrency` ours. The
    liveness probes (`PROBES`) are answered over the bound too: an orchestrator that saw one
    refused would restart a process that is only busy."""

    refusal: Any = too_many_connections

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if app is service_unavailable:
            app = self.app if cycle.scope.get("path") in PROBES else self.refusal
        super()._start_asgi_task(cycle, app)


class _WithoutRefusalWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != UVICORN_REFUSAL_LOG


def bounded_options(limit: int, refusal: Any = None) -> dict[str, Any]:
    """uvicorn.Config options for at most `limit` connections (0: no bound, uvicorn's own
    protocol choice), refused by the ASGI app `refusal` (default `too_many_connections`)."""
    if not limit:
        return {}
    if refusal is None:
        return {"limit_concurrency": limit, "http": ConnectionBound}
    protocol = type("ConnectionBound", (ConnectionBound,), {"refusal": staticmethod(refusal)})
    return {"limit_concurrency": limit, "http": protocol}


def quiet_refusals() -> None:
    """Call after uvicorn.Config (which configures logging): each refusal is logged once, by
    the access log, not also as one of uvicorn's warnings."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _WithoutRefusalWarnings) for f in logger.filters):  # once per process
        logger.addFilter(_WithoutRefusalWarnings())
