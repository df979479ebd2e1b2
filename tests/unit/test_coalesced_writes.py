"""A response's head held by the connection's transport and written with the next write
(services/common/coalesced_writes.py): the same bytes in the same order, fewer writes."""

from __future__ import annotations

import asyncio

from services.common.coalesced_writes import HeldHead, _head_held


class Recorded:
    def __init__(self):
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1)}.get(name, default)

    def pause_reading(self) -> None:
        self.paused = True


SIZED = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}


def run(transport: HeldHead, messages: list[dict], head: bytes = b"HEAD\r\n\r\n") -> None:
    """uvicorn's send as far as writes go: a start writes the head, a body writes its bytes."""

    async def uvicorn_send(message):
        transport.write(head if message["type"] == "http.response.start" else message.get("body", b""))

    send = _head_held(uvicorn_send, transport)

    async def all_of_them():
        for message in messages:
            await send(message)

    asyncio.run(all_of_them())


def test_a_sized_heads_goes_out_with_the_body_in_one_write():
    raw = Recorded()
    transport = HeldHead(raw)  # type: ignore[arg-type]
    run(transport, [SIZED, {"type": "http.response.body", "body": b"ok"}])
    assert raw.writes == [b"HEAD\r\n\r\nok"]


def test_keep_alive_responses_each_go_out_whole_and_in_order():
    raw = Recorded()
    transport = HeldHead(raw)  # type: ignore[arg-type]
    for body in (b"a1", b"b2", b"c3"):
        run(transport, [SIZED, {"type": "http.response.body", "body": body}])
    assert raw.writes == [b"HEAD\r\n\r\na1", b"HEAD\r\n\r\nb2", b"HEAD\r\n\r\nc3"]


def test_a_streamed_head_without_content_length_is_written_at_once():
    raw = Recorded()
    transport = HeldHead(raw)  # type: ignore[arg-type]
    run(transport, [{"type": "http.response.start", "status": 200, "headers": []}])
    assert raw.writes == [b"HEAD\r\n\r\n"]  # before any chunk: a client sees it while it waits


def test_a_held_head_goes_out_before_the_transport_closes():
    raw = Recorded()
    transport = HeldHead(raw)  # type: ignore[arg-type]
    run(transport, [SIZED])  # the application failed before its body
    assert raw.writes == []
    transport.close()
    assert raw.writes == [b"HEAD\r\n\r\n"] and raw.closed


def test_a_start_refused_before_it_wrote_holds_nothing_after_it():
    raw = Recorded()
    transport = HeldHead(raw)  # type: ignore[arg-type]

    async def refusing(message):
        raise RuntimeError("Invalid HTTP header value.")

    send = _head_held(refusing, transport)
    try:
        asyncio.run(send(SIZED))
    except RuntimeError:
        pass
    transport.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    assert raw.writes == [b"HTTP/1.1 500 Internal Server Error\r\n\r\n"]


def test_an_abort_drops_a_held_head_and_the_rest_is_the_transports():
    raw = Recorded()
    transport = HeldHead(raw)  # type: ignore[arg-type]
    run(transport, [SIZED])
    transport.abort()
    assert raw.writes == [] and raw.aborted
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
    transport.pause_reading()
    assert raw.paused


def test_nothing_stays_held_past_a_responses_end_when_its_body_writes_nothing():
    raw = Recorded()
    transport = HeldHead(raw)  # type: ignore[arg-type]

    async def uvicorn_send_for_head(message):  # HEAD: uvicorn writes the head and no body
        if message["type"] == "http.response.start":
            transport.write(b"HEAD\r\n\r\n")

    send = _head_held(uvicorn_send_for_head, transport)

    async def both():
        await send(SIZED)
        await send({"type": "http.response.body", "body": b"ok"})

    asyncio.run(both())
    assert raw.writes == [b"HEAD\r\n\r\n"]
