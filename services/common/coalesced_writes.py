"""uvicorn's HTTP protocol (httptools) writing a response's status line and headers together
with its first body bytes: one `send` system call per plain response instead of two.

uvicorn writes the head when the application sends `http.response.start` and the body when it
sends `http.response.body`, each straight to the socket (uvloop writes at once while nothing
is buffered). For the dispute API's commands the two writes were ~6% of the process's CPU
(py-spy, only the GIL's holder sampled) and two TCP segments for the client to read. Here the
head is held by the connection's transport until the next write (the first body chunk, or
anything else uvicorn writes), then both go out as one: the bytes and their order on the wire
are exactly uvicorn's. Only a head that declares its Content-Length is held (the body follows
at once: Starlette's Response); a streamed answer's head goes out as before, so a client sees
it before the first chunk however long that takes. A held head with no write after it (the
application failing between start and body) goes out before the transport closes, as it did.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeldHead:
    """A transport whose next write after `hold_next()` is held and sent with the one after it."""

    __slots__ = ("_transport", "_holding", "_held")

    def __init__(self, transport: asyncio.Transport):
        self._transport = transport
        self._holding = False
        self._held: bytes | None = None

    def hold_next(self) -> None:
        self._holding = True

    def stop_holding(self) -> None:
        self._holding = False

    def write(self, data: bytes) -> None:
        if self._holding:
            self._holding = False
            if self._held is None:
                self._held = bytes(data)
                return
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held)

    def close(self) -> None:
        self._holding = False
        if not self._transport.is_closing():
            self.flush()
        self._held = None
        self._transport.close()

    def abort(self) -> None:
        self._holding, self._held = False, None
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:  # pause_reading, set_protocol, ...
        return getattr(self._transport, name)


def _head_held(send: Callable[[Any], Awaitable[None]], transport: HeldHead
               ) -> Callable[[Any], Awaitable[None]]:
    async def sending(message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and _sized(message):
            transport.hold_next()
            try:
                await send(message)
            finally:
                transport.stop_holding()  # a start refused before it wrote holds nothing after it
            return
        await send(message)
        if kind == "http.response.body" and not message.get("more_body", False):
            transport.flush()  # nothing held past a response's end (uvicorn writes no body for HEAD)

    return sending


def _sized(start: Any) -> bool:
    return any(name.lower() == b"content-length" for name, _ in start.get("headers", ()))


class CoalescedWrites(HttpToolsProtocol):
    """HttpToolsProtocol whose responses' heads go out with their first body bytes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeldHead(transport))  # type: ignore[arg-type]

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        cycle.send = _head_held(cycle.send, self.transport)  # type: ignore[arg-type]
        super()._start_asgi_task(cycle, app)
