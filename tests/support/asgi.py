"""Calling an ASGI app by hand, counting how much of the request body it asked for."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RawAnswer:
    status: int
    chunks_read: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


async def call_raw(app, method: str, path: str, headers: dict[str, str],
                   chunks: list[bytes]) -> RawAnswer:
    """One request whose body arrives in `chunks`, one per `receive()` the app makes."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    read, sent = 0, []

    async def receive():
        nonlocal read
        if read >= len(chunks):
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return RawAnswer(start["status"], read,
                     {k.decode(): v.decode() for k, v in start["headers"]}, body)
