"""Every log line of a service is one JSON object: structlog's and the standard library's alike
(issue 13, point 4), and the access log writes one line per request."""

import asyncio
import io
import json
import logging
import sys

import pytest
import structlog
from structlog._config import BoundLoggerLazyProxy

from services.common.access_log import AccessLog
from services.common.logging import bound_to_logs, configure_logging


@pytest.fixture
def stderr():
    """A stream of the test's own (pytest swaps sys.stderr between phases, and loggers keep the
    file they were made with), and the configuration the other tests run with put back."""
    buffer, handlers = io.StringIO(), logging.getLogger().handlers[:]
    yield buffer
    structlog.reset_defaults()
    forget_cached_loggers()
    logging.getLogger().handlers[:] = handlers


def forget_cached_loggers() -> None:
    """configure_logging caches each module's logger on its first use (as services run): a
    module's logger used under it (the access log's, say) would go on writing to this test's
    stream, past `reset_defaults`, and `structlog.testing.capture_logs` in a later test of the
    same process would see none of its lines."""
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            if isinstance(value, BoundLoggerLazyProxy):
                value.__dict__.pop("bind", None)


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


def test_what_the_application_put_in_the_scope_is_dropped_once_it_answered_the_servers_keys_stay(stderr):
    """uvicorn keeps a keep-alive connection's last scope until its next request: the route,
    the endpoint and FastAPI's exit stacks must not stay alive with it."""
    configure_logging("INFO", json=True, stream=stderr)
    seen = {}

    async def app(scope, receive, send):
        scope["route"], scope["path_params"] = object(), {"dispute_id": "d-1"}
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def failing(scope, receive, send):
        scope["fastapi_astack"] = object()
        raise RuntimeError("the application failed")

    async def receive():
        return {"type": "http.request"}

    async def send(_message):
        pass

    server_keys = {"type", "method", "path", "client", "headers", "state"}
    scope = {"type": "http", "method": "POST", "path": "/v1/disputes/d-1/messages", "client": ("127.0.0.1", 5),
             "headers": [], "state": {}}
    asyncio.run(AccessLog(app)(scope, receive, send))
    assert {"route", "path_params"} <= set(seen) and set(scope) == server_keys
    with pytest.raises(RuntimeError):
        asyncio.run(AccessLog(failing)(scope, receive, send))
    assert set(scope) == server_keys  # uvicorn answers the 500 from these


class CountingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def write(self, text):
        self.writes += 1
        return super().write(text)


def test_the_lines_of_one_loop_turn_are_written_together_in_order(stderr):
    stream = CountingStream()
    configure_logging("INFO", json=True, stream=stream)
    log = structlog.get_logger("ours")

    async def one_turn():
        for n in range(5):
            log.info("http_request", n=n)
        assert stream.writes == 0  # not yet: the turn is not over
        await asyncio.sleep(0)

    asyncio.run(one_turn())
    assert [line["n"] for line in lines(stream)] == [0, 1, 2, 3, 4]
    assert stream.writes == 1


def test_a_line_logged_outside_a_loop_is_written_at_once(stderr):
    stream = CountingStream()
    configure_logging("INFO", json=True, stream=stream)
    structlog.get_logger("ours").info("writer_batch", size=3)
    assert [line["size"] for line in lines(stream)] == [3]


def test_values_bound_to_a_block_are_on_its_lines_and_what_was_bound_before_comes_back(stderr):
    configure_logging("INFO", json=True, stream=stderr)
    log = structlog.get_logger("t")
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(correlation_id="outer")

    async def handle(event_id: str) -> None:
        with bound_to_logs(correlation_id=f"c-{event_id}", event_id=event_id):
            await asyncio.sleep(0)  # the other record's block runs meanwhile, in its own task
            with bound_to_logs(dispute_id="D-1"):
                log.info("inner")
            log.info("handled")
        log.info("restored")  # the same task's context: the shadowed value is back

    async def both() -> None:
        await asyncio.gather(handle("E-1"), handle("E-2"))
        log.info("after")
    asyncio.run(both())
    try:
        with bound_to_logs(event_id="E-3", correlation_id="shadow"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    log.info("last")
    structlog.contextvars.clear_contextvars()
    seen = [{k: line.get(k) for k in ("event", "correlation_id", "event_id", "dispute_id")}
            for line in lines(stderr)]
    assert sorted(seen[:6], key=lambda line: (line["event_id"] or "", line["event"])) == [
        {"event": "restored", "correlation_id": "outer", "event_id": None, "dispute_id": None},
        {"event": "restored", "correlation_id": "outer", "event_id": None, "dispute_id": None},
        {"event": "handled", "correlation_id": "c-E-1", "event_id": "E-1", "dispute_id": None},
        {"event": "inner", "correlation_id": "c-E-1", "event_id": "E-1", "dispute_id": "D-1"},
        {"event": "handled", "correlation_id": "c-E-2", "event_id": "E-2", "dispute_id": None},
        {"event": "inner", "correlation_id": "c-E-2", "event_id": "E-2", "dispute_id": "D-1"}]
    assert seen[6:] == [
        {"event": "after", "correlation_id": "outer", "event_id": None, "dispute_id": None},
        {"event": "last", "correlation_id": "outer", "event_id": None, "dispute_id": None}]
