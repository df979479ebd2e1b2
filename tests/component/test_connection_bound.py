"""An API process holds at most DISPUTE_HTTP_MAX_CONNECTIONS connections open (uvicorn's
limit_concurrency): past it a request is answered 503 with Retry-After as a problem document
before the application sees it, and its connection is closed, so an open-loop client that
outruns the process cannot grow its memory (~8 kB a connection) without bound. A real uvicorn
server on a free port: the refusal comes from inside uvicorn (pinned) and our protocol."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
import uvicorn
from structlog.testing import capture_logs

from infra.ports import free_port
from services.common import http
from services.common.access_log import AccessLog
from services.common.connection_bound import ConnectionBound, bounded_options, quiet_refusals
from services.dispute.settings import DisputeSettings

LIMIT = 2  # uvicorn refuses once this many connections are open, the asking one counted


async def hello(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def bounded_server():
    yield from running(AccessLog(hello), bounded_options(LIMIT))


def running(app, options):
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, **options)
    quiet_refusals()
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def ask(sock: socket.socket, path: str = "/anything") -> tuple[int, dict[str, str], bytes]:
    """One keep-alive GET on `sock`: status, headers (lower-case names), body."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: api\r\n\r\n".encode())
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {raw!r}"
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_past_the_bound_a_request_is_answered_503_with_retry_after_and_its_connection_closed(bounded_server):
    held = connect(bounded_server)
    assert ask(held)[0] == 200  # one connection open, kept alive
    extra = connect(bounded_server)

    status, headers, body = ask(extra)

    assert status == 503
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "1"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert (problem["status"], problem["code"], problem["retry_after_seconds"]) == (503, "SERVICE_UNAVAILABLE", 1)
    assert closed_by_server(extra)
    held.close()


def test_once_connections_close_requests_are_served_again(bounded_server):
    held = connect(bounded_server)
    assert ask(held)[0] == 200
    refused = connect(bounded_server)
    assert ask(refused)[0] == 503
    assert closed_by_server(refused)
    refused.close()

    assert ask(held)[0] == 200  # the refused connection is gone: one open again
    held.close()
    time.sleep(0.2)  # the server notices the close
    fresh = connect(bounded_server)
    assert ask(fresh)[0] == 200
    fresh.close()


class Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_a_refusal_is_one_access_line_not_also_uvicorns_warning(bounded_server):
    uvicorn_log, kept = logging.getLogger("uvicorn.error"), Kept()
    uvicorn_log.addHandler(kept)  # on the logger itself: it does not propagate to the root
    try:
        with capture_logs() as lines:
            held = connect(bounded_server)
            ask(held)
            refused = connect(bounded_server)
            assert ask(refused)[0] == 503
            refused.close()
            held.close()
            # the access line is written once the answer is sent: the client can read it first
            deadline = time.monotonic() + 5
            while len(lines) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        uvicorn_log.warning("another warning")
    finally:
        uvicorn_log.removeHandler(kept)
    assert [(line["event"], line["status"]) for line in lines] == [("http_request", 200), ("http_request", 503)]
    assert kept.messages == ["another warning"]  # its other warnings still go out


def test_no_bound_leaves_uvicorn_as_it_is():
    assert bounded_options(0) == {}
    assert bounded_options(5) == {"limit_concurrency": 5, "http": ConnectionBound}


def test_the_dispute_api_serves_with_its_setting(monkeypatch):
    """serve() hands DISPUTE_HTTP_MAX_CONNECTIONS (1024 by default) to uvicorn."""
    seen = {}

    def run(server, sockets=None):
        seen["config"], server.started = server.config, True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    assert DisputeSettings().http_max_connections == 1024
    assert http.serve(hello, DisputeSettings(http_max_connections=7)) == 0
    assert seen["config"].limit_concurrency == 7 and issubclass(seen["config"].http, ConnectionBound)
    assert http.serve(hello, DisputeSettings(http_max_connections=0)) == 0
    assert seen["config"].limit_concurrency is None


def test_the_probes_are_answered_past_the_bound(bounded_server):
    """A liveness probe refused under overload would have an orchestrator restart a process
    that is only busy: /healthz and /health go through to the app; /readyz is refused (a
    saturated process should be taken out of rotation, not restarted)."""
    held = connect(bounded_server)
    assert ask(held)[0] == 200
    probe = connect(bounded_server)
    assert ask(probe, "/healthz")[0] == 200
    assert ask(probe, "/health")[0] == 200
    assert ask(probe, "/readyz")[0] == 503  # anything else on it is still refused
    probe.close()
    held.close()


def test_the_refusal_filter_is_added_once_however_often_a_process_serves():
    quiet_refusals()
    quiet_refusals()
    filters = [f for f in logging.getLogger("uvicorn.error").filters if type(f).__name__ == "_WithoutRefusalWarnings"]
    assert len(filters) == 1


def test_a_port_taken_without_sharing_exits_as_uvicorn_does(monkeypatch):
    """SO_REUSEPORT mode on a port a process holds without sharing: one line, exit 3."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: pytest.fail("served"))
    try:
        with capture_logs() as lines:
            code = http.serve(hello, DisputeSettings(http_port=port, http_reuse_port=True))
    finally:
        holder.close()
    assert code == http.STARTUP_FAILURE
    assert [line["event"] for line in lines] == ["bind_failed"]


def test_a_refusal_is_counted_in_the_apps_http_metrics_under_its_route(monkeypatch):
    """serve() has the bound's 503s counted as the app's own answers (they never reach it)."""
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry

    from services.common.metrics import instrument_http

    app, registry = FastAPI(), CollectorRegistry()

    @app.get("/hello/{name}")
    def greet(name: str) -> dict:
        return {"hello": name}

    instrument_http(app, registry)
    seen = {}
    with monkeypatch.context() as patch:  # the protocol serve() would run the app with
        patch.setattr(uvicorn.Server, "run", lambda server, sockets=None: (
            seen.update(config=server.config), setattr(server, "started", True)))
        assert http.serve(app, DisputeSettings(http_max_connections=LIMIT)) == 0
    server = running(AccessLog(app), {"limit_concurrency": LIMIT, "http": seen["config"].http})
    port = next(server)
    try:
        held = connect(port)
        assert ask(held, "/hello/a")[0] == 200
        refused = connect(port)
        assert ask(refused, "/hello/b")[0] == 503
        refused.close()
        held.close()
    finally:
        next(server, None)

    def served(status: str) -> float | None:
        return registry.get_sample_value("http_requests_total", {"method": "GET", "status": status,
                                                                 "handler": "/hello/{name}"})
    assert (served("200"), served("503")) == (1.0, 1.0)
    assert registry.get_sample_value("http_request_duration_seconds_count",
                                     {"method": "GET", "status": "503", "handler": "/hello/{name}"}) == 1.0


def test_an_app_without_metrics_is_refused_as_before():
    from services.common.connection_bound import refuse_too_many_connections
    from services.common.metrics import counted

    assert counted(refuse_too_many_connections, hello) is refuse_too_many_connections
