"""A real uvicorn server with the coalescing protocol (services/common/coalesced_writes.py):
every kind of answer arrives whole and in order on a kept-alive connection, and a streamed
answer's head arrives before its first chunk is even produced."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from infra.ports import free_port
from services.common.coalesced_writes import CoalescedWrites
from services.common.connection_bound import ConnectionBound

released = threading.Event()


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        while not released.is_set():  # the test reads the head first, then lets the chunk go
            await __import__("asyncio").sleep(0.01)
        await send({"type": "http.response.body", "body": b"chunk", "more_body": False})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/broken":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        raise RuntimeError("failed between start and body")
    body = path.encode() * 3
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(params=[CoalescedWrites, ConnectionBound])
def server(request):
    port = free_port()
    options = {"limit_concurrency": 100} if request.param is ConnectionBound else {}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                            access_log=False, http=request.param, **options)
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield port
    served.should_exit = True
    thread.join(10)


def read_until(sock: socket.socket, raw: bytes, done) -> bytes:
    while not done(raw):
        chunk = sock.recv(65536)
        if not chunk:
            return raw
        raw += chunk
    return raw


def answer(sock: socket.socket, method: str, path: str) -> tuple[int, dict[str, str], bytes, bytes]:
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: api\r\n\r\n".encode())
    raw = read_until(sock, b"", lambda r: b"\r\n\r\n" in r)
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = 0 if method == "HEAD" else int(headers.get("content-length", "0"))
    rest = read_until(sock, rest, lambda r: len(r) >= length)
    return int(lines[0].split()[1]), headers, rest[:length], rest[length:]


def test_answers_on_one_kept_alive_connection_arrive_whole_and_in_order(server):
    sock = socket.create_connection(("127.0.0.1", server), timeout=5)
    for path in ("/a", "/bb", "/ccc") * 3:
        status, headers, body, extra = answer(sock, "GET", path)
        assert (status, body, extra) == (200, path.encode() * 3, b"")
        assert headers["content-length"] == str(len(path) * 3)
    status, headers, body, extra = answer(sock, "HEAD", "/a")
    assert (status, headers["content-length"], body, extra) == (200, "6", b"", b"")
    status, headers, body, extra = answer(sock, "GET", "/empty")
    assert (status, body, extra) == (204, b"", b"")
    assert answer(sock, "GET", "/after")[2] == b"/after" * 3
    sock.close()


def test_a_streamed_answers_head_arrives_before_its_first_chunk(server):
    released.clear()
    sock = socket.create_connection(("127.0.0.1", server), timeout=5)
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: api\r\n\r\n")
    head = read_until(sock, b"", lambda r: b"\r\n\r\n" in r)  # the app is still waiting
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head
    released.set()
    rest = read_until(sock, head.partition(b"\r\n\r\n")[2], lambda r: r.endswith(b"0\r\n\r\n"))
    assert rest == b"5\r\nchunk\r\n0\r\n\r\n"
    sock.close()


def test_an_answer_broken_after_its_head_still_sends_the_head_then_closes(server):
    sock = socket.create_connection(("127.0.0.1", server), timeout=5)
    sock.sendall(b"GET /broken HTTP/1.1\r\nHost: api\r\n\r\n")
    raw = read_until(sock, b"", lambda r: False)  # until the server closes
    assert raw.startswith(b"HTTP/1.1 200") and raw.endswith(b"\r\n\r\n")
    sock.close()
