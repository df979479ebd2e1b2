"""Every log line of a service is one JSON object: structlog's and the standard library's alike
(issue 13, point 4), and the access log writes one line per request."""

import asyncio
import io
import json
import logging

import pytest
import structlog

from services.common.access_log import AccessLog
from services.common.logging import configure_logging


@pytest.fixture
def stderr():
    """A stream of the test's own (pytest swaps sys.stderr between phases, and loggers keep the
    file they were made with), and the configuration the other tests run with put back."""
    buffer, handlers = io.StringIO(), logging.getLogger().handlers[:]
    yield buffer
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


def lines(buffer) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_library_logging_through_the_standard_library_comes_out_as_json(stderr):
    configure_logging("INFO", json=True, stream=stderr)
    logging.getLogger("tests.some_library").warning("Unable connect to %s", "127.0.0.1:1")
    structlog.get_logger("ours").info("relay_published", count=3)
    library, ours = lines(stderr)
    assert library["event"] == "Unable connect to 127.0.0.1:1" and library["level"] == "warning"
    assert library["logger"] == "tests.some_library" and "timestamp" in library
    assert ours["event"] == "relay_published" and ours["count"] == 3


def test_the_access_log_writes_one_line_per_request_with_status_and_correlation_id(stderr):
    configure_logging("INFO", json=True, stream=stderr)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request"}

    async def send(_message):
        pass

    scope = {"type": "http", "method": "GET", "path": "/v1/disputes/x", "client": ("127.0.0.1", 5),
             "headers": [(b"x-correlation-id", b"c-42")]}
    asyncio.run(AccessLog(app)(scope, receive, send))
    [line] = lines(stderr)
    assert (line["event"], line["method"], line["path"], line["status"], line["correlation_id"]) == (
        "http_request", "GET", "/v1/disputes/x", 404, "c-42")
    assert line["duration_ms"] >= 0
