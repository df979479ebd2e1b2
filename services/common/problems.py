"""Errors as `application/problem+json` (RFC 9457) with a stable `code`; never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

log = structlog.get_logger("http")
PROBLEM = "application/problem+json"
HTTP_CODES = {400: "VALIDATION_FAILED", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
              422: "VALIDATION_FAILED"}


# What each answer of an API may carry, for its OpenAPI document: `problem_responses` turns
# {status: codes} into response declarations with an `application/problem+json` schema whose
# `code` is one of those codes. Services build their shared `responses=` dicts from it.
StatusCodes = dict[int, frozenset[str]]
Responses = dict[int | str, dict[str, Any]]  # FastAPI's `responses=`
RETRY_AFTER_HEADER = {"Retry-After": {"description": "seconds to wait before retrying",
                                      "required": True, "schema": {"type": "string",
                                                                   "pattern": "^[0-9]+$"}}}
HEADERS_OF = {429: RETRY_AFTER_HEADER, 503: RETRY_AFTER_HEADER}
DESCRIPTIONS = {400: "Bad request", 401: "No valid bearer token", 403: "Not allowed for this caller",
                404: "Not found", 409: "Conflicts with the current state",
                412: "If-Match names a version that is not the current one",
                413: "Body too large", 415: "Unsupported media type",
                422: "Not valid (schema) or refused by a business rule",
                429: "Too many writes; retry after Retry-After", 503: "A dependency is away; retry"}


def codes(*groups: StatusCodes) -> StatusCodes:
    """The union of several {status: codes} maps (the codes of one status are merged)."""
    merged: dict[int, frozenset[str]] = {}
    for group in groups:
        for status, named in group.items():
            merged[status] = merged.get(status, frozenset()) | named
    return merged


def problem_schema(status: int, named: frozenset[str]) -> dict[str, Any]:
    """An RFC 9457 body with this status and one of these codes; a problem may carry more
    members (the validation `errors`, a dispute's `current_version`, ...)."""
    return {"type": "object", "required": ["type", "title", "status", "code", "detail"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "integer", "enum": [status]},
                           "code": {"type": "string", "enum": sorted(named)},
                           "detail": {"type": "string"},
                           "errors": {"type": "array", "items": {"type": "object"}}},
            "additionalProperties": True}


def problem_responses(statuses: StatusCodes) -> Responses:
    """`responses=` declarations of FastAPI for these error statuses and codes."""
    declared: Responses = {}
    for status, named in sorted(statuses.items()):
        declared[status] = {"description": DESCRIPTIONS.get(status, "Error"),
                            "content": {PROBLEM: {"schema": problem_schema(status, named)}}}
        if status in HEADERS_OF:
            declared[status]["headers"] = HEADERS_OF[status]
    return declared


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def problem_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:problem:{code}", "title": code.replace("_", " ").capitalize(),
            "status": status, "code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


RETRY_AFTER_SECONDS = 2


def store_unavailable_errors() -> tuple[type[Exception], ...]:
    """What a database away (restarting, unreachable, out of connections) raises through
    psycopg, SQLAlchemy, sqlite3 or eventsourcing: the request may well succeed when retried."""
    import sqlite3

    import psycopg
    from eventsourcing.persistence import InterfaceError as StoreInterfaceError
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    return (psycopg.OperationalError, psycopg.InterfaceError, OperationalError, InterfaceError,
            PoolTimeout, StoreOperationalError, StoreInterfaceError, sqlite3.OperationalError)


def allowed_methods(request: Request) -> list[str]:
    """The methods of every route on this path (two routers may share one: GET and POST of
    /messages), HEAD wherever GET is; from the routes as included (prefixes applied)."""
    path, methods = request.url.path, set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.path and compile_path(route.path)[0].match(path):
            methods |= set(route.methods)
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem):
        return problem_response(exc.status, exc.code, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        return problem_response(422, "VALIDATION_FAILED", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        response = problem_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: every method of the resource, not one route's
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(OverflowError)
    async def _out_of_range(_: Request, exc: OverflowError):
        # dates and durations from the request pushed past what a datetime can hold
        return problem_response(422, "VALIDATION_FAILED", "a date or duration is out of range")

    async def _store_unavailable(request: Request, exc: Exception):
        # Nothing was acknowledged: a retry (with the same Idempotency-Key) is safe.
        log.warning("store_unavailable", path=request.url.path, error=repr(exc)[:300])
        response = problem_response(503, "SERVICE_UNAVAILABLE", "the service's database is not "
                                    "available right now; retry", retry_after_seconds=RETRY_AFTER_SECONDS)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for error in store_unavailable_errors():
        app.add_exception_handler(error, _store_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unhandled_error", path=request.url.path, error=repr(exc), exc_info=exc)
        return problem_response(500, "INTERNAL_ERROR", "something went wrong on our side")
