"""The HTTP client of the payment provider's one origin: HTTP/1.1 keep-alive connections over
asyncio streams, answers read by httptools (the C parser uvicorn uses).

httpx's layers (auth and redirect flows, traces, anyio, its pool) were a fifth of the refund
service's CPU for one small POST per refund. This client does only what the adapter
(services/refund/gateway.py) needs, with the same contract: `post(path, json=, headers=)`
gives an answer with `status_code` and `json()`, and every transport failure is an
`httpx.TransportError` (a timeout `httpx.TimeoutException`), so retries, timeouts and the
idempotency key are the adapter's, as before.

- At most `connections` requests at once; an idle connection is reused, one the provider
  closed meanwhile is dropped before use.
- `timeout` bounds each request as a whole (connecting, sending, reading the answer).
- A request on a reused connection that fails before any byte of an answer (the provider
  closed it as we wrote) is sent once more on a new connection: the idempotency key makes a
  second send harmless, and it is not the provider's fault.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import ssl
from typing import Any
from urllib.parse import urlsplit

import httptools
import httpx

READ_CHUNK = 65536


class ProviderAnswer:
    """What the adapter reads of an answer (httpx.Response's names)."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _Reading:
    """httptools callbacks: the body, whether the connection may be kept (known once the
    head is read: the parser resets after the message) and whether the answer is complete."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.complete = self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    async def exchange(self, request: bytes) -> tuple[ProviderAnswer, bool, bool]:
        """(answer, keep the connection, any byte read)."""
        self.writer.write(request)
        reading = _Reading()
        parser = reading.parser
        got_bytes = False
        while not reading.complete:
            try:
                data = await self.reader.read(READ_CHUNK)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                raise _Closed(got_bytes)
            got_bytes = True
            try:
                parser.feed_data(data)
            except httptools.HttpParserError as error:
                raise httpx.RemoteProtocolError(f"unreadable answer: {error}") from None
        answer = ProviderAnswer(parser.get_status_code(), b"".join(reading.chunks))
        return answer, reading.keep_alive, got_bytes

    def close(self) -> None:
        self.writer.close()


class _Closed(Exception):
    def __init__(self, got_bytes: bool):
        super().__init__("the provider closed the connection")
        self.got_bytes = got_bytes


class ProviderHttpClient:
    def __init__(self, base_url: str, timeout: float, connections: int):
        origin = urlsplit(base_url)
        if origin.scheme not in ("http", "https") or not origin.hostname:
            raise ValueError(f"the provider URL must be http(s)://host[:port][/path], not {base_url!r}")
        self.host = origin.hostname
        self.port = origin.port or (443 if origin.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if origin.scheme == "https" else None
        default_port = origin.port is None
        self.host_header = origin.netloc.rsplit("@", 1)[-1] if not default_port else self.host
        self.prefix = origin.path.rstrip("/")
        self.timeout = timeout
        self.connections = max(1, connections)
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Connection] = []
        self.is_closed = False

    async def post(self, url: str, *, json: Any, headers: dict[str, str]) -> ProviderAnswer:
        if self.is_closed:
            raise RuntimeError("the provider client has been closed")
        request = self._request(url, jsonlib.dumps(json).encode(), headers)
        if self._slots is None:  # bound to the running loop at first use
            self._slots = asyncio.Semaphore(self.connections)
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._send(request)
            except TimeoutError:
                raise httpx.ReadTimeout(f"no answer from the provider within {self.timeout} s") from None
            except OSError as error:  # refused, reset, unreachable, TLS
                raise httpx.ConnectError(f"{type(error).__name__}: {error}") from None

    async def _send(self, request: bytes) -> ProviderAnswer:
        connection, reused = self._idle_connection(), True
        if connection is None:
            connection, reused = await self._connect(), False
        try:
            answer, keep, _ = await connection.exchange(request)
        except _Closed as closed:
            connection.close()
            if not reused or closed.got_bytes:
                raise httpx.RemoteProtocolError(str(closed)) from None
            return await self._send_on_new(request)
        except BaseException:
            connection.close()
            raise
        self._release(connection, keep)
        return answer

    async def _send_on_new(self, request: bytes) -> ProviderAnswer:
        connection = await self._connect()
        try:
            answer, keep, _ = await connection.exchange(request)
        except _Closed as closed:
            connection.close()
            raise httpx.RemoteProtocolError(str(closed)) from None
        except BaseException:
            connection.close()
            raise
        self._release(connection, keep)
        return answer

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl)
        return _Connection(reader, writer)

    def _release(self, connection: _Connection, keep: bool) -> None:
        if keep and not self.is_closed:
            self._idle.append(connection)
        else:
            connection.close()

    def _request(self, url: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {self.prefix}{url} HTTP/1.1", f"Host: {self.host_header}",
                 "Accept: application/json", "Content-Type: application/json",
                 f"Content-Length: {len(body)}"]
        for name, value in headers.items():
            if any(c in name + value for c in "\r\n\0"):
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def aclose(self) -> None:
        self.is_closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
