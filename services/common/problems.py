"""Errors as `application/problem+json` (RFC 9457) with a stable `code`; never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("http")
PROBLEM = "application/problem+json"
HTTP_CODES = {400: "VALIDATION_FAILED", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
              422: "VALIDATION_FAILED"}


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
    async def _http(_: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        response = problem_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. the Allow of a 405 (RFC 9110)
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
