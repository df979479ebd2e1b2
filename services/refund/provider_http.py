"""The HTTP client of the payment provider's one origin, on aiohttp: keep-alive connections
(at most `connections` at once), its C parser, one session per client.

httpx was a fifth of the refund service's CPU for one small POST a refund (3.2-3.8 ms of client
CPU a request at 32 at once against a local server, its pool scanned per request; aiohttp
0.20-0.26 ms in the same run). This client keeps the adapter's contract (services/refund/
gateway.py): `post(path, json=, headers=)` gives an answer with `status_code` and `json()`,
and every transport failure is an `httpx.TransportError` (a timeout `httpx.TimeoutException`,
a refused connection `httpx.ConnectError`), so retries, timeouts and the idempotency key stay
the adapter's, and tests may hand the adapter an `httpx.AsyncClient`.

- `timeout` bounds each request as a whole (connecting, sending, reading the answer).
- A request whose connection the provider closed before answering (it closed an idle
  keep-alive connection as we wrote on it) is sent once more on a new connection: the
  idempotency key makes a second send harmless, and it is not the provider's fault.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx

RESENDS_AFTER_A_CLOSE = 1


class ProviderAnswer:
    """What the adapter reads of an answer (httpx.Response's names)."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class ProviderHttpClient:
    def __init__(self, base_url: str, timeout: float, connections: int):
        origin = urlsplit(base_url)
        if origin.scheme not in ("http", "https") or not origin.hostname:
            raise ValueError(f"the provider URL must be http(s)://host[:port][/path], not {base_url!r}")
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.connections = max(1, connections)
        self.connections_opened = 0  # sockets opened to the provider, failed attempts included (tests, diagnostics)
        self._session: aiohttp.ClientSession | None = None
        self.is_closed = False

    async def post(self, url: str, *, json: Any, headers: dict[str, str]) -> ProviderAnswer:
        if self.is_closed:
            raise RuntimeError("the provider client has been closed")
        for name, value in headers.items():  # never a request another header could be smuggled into
            if any(c in name + value for c in "\r\n\0"):
                raise ValueError(f"header {name!r} holds a line break")
        body = jsonlib.dumps(json).encode()
        for resend in range(RESENDS_AFTER_A_CLOSE + 1):
            try:
                return await self._post(url, body, headers)
            except aiohttp.ServerDisconnectedError as closed:
                if resend == RESENDS_AFTER_A_CLOSE:
                    raise httpx.RemoteProtocolError(f"the provider closed the connection: {closed}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> ProviderAnswer:
        try:
            async with self._session_now().post(
                    self.base + url, data=body,
                    headers={"Accept": "application/json", "Content-Type": "application/json", **headers}) as answer:
                return ProviderAnswer(answer.status, await answer.read())
        except aiohttp.ServerDisconnectedError:
            raise
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise httpx.ReadTimeout(f"no answer from the provider within {self.timeout} s") from None
        except aiohttp.ClientConnectorError as error:  # refused, unreachable, DNS, TLS handshake
            raise httpx.ConnectError(f"{type(error).__name__}: {error}") from None
        except (aiohttp.ClientError, OSError) as error:  # an answer cut short or unreadable, a reset
            raise httpx.RemoteProtocolError(f"{type(error).__name__}: {error}") from None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:  # made at first use: bound to the running loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections, socket_factory=self._socket),
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    def _socket(self, address: tuple) -> socket.socket:
        """Each new connection's socket, counted here rather than by a trace: a session with
        any trace config sends every request's trace signals (a fifth of the client's CPU a
        POST against a local server: 157-197 us without, 185-261 us with)."""
        family, kind, protocol, _, _ = address
        self.connections_opened += 1
        return socket.socket(family=family, type=kind, proto=protocol)

    async def aclose(self) -> None:
        self.is_closed = True
        if self._session is not None:
            await self._session.close()
