"""The pipelining protocol's reply queue (services/notification/smtp_pipelining.py) against a
transport that records what is written: replies split over packets or several in one are read
in order, data while nothing is owed is dropped as aiosmtplib drops it, and a DATA accepted
after a refused recipient is given a lone dot (an empty message), never the message."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtplib import SMTPServerDisconnected
from aiosmtplib.protocol import SMTPProtocol

from services.notification.smtp_pipelining import PipeliningProtocol


class Transport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name, default=None):
        return default

    def set_protocol(self, protocol) -> None:
        self.protocol = protocol


def connected() -> tuple[PipeliningProtocol, Transport]:
    protocol, transport = SMTPProtocol(loop=asyncio.get_running_loop()), Transport()
    protocol.connection_made(transport)
    protocol._response_pending = False  # the greeting read, as after aiosmtplib's connect
    taken = PipeliningProtocol.take_over(protocol)
    assert transport.protocol is taken  # set again: uvloop calls what its transport was given
    return taken, transport


async def answered(protocol, transport, *packets: bytes, message: bytes = b"Subject: x\r\n\r\nhi\r\n",
                   received: list | None = None):
    """The group sent; a task giving the replies received (raising what the send raised)."""
    replies = [] if received is None else received

    async def send():
        await protocol.send_pipelined((b"FROM:<a@x.example>",), b"TO:<b@y.example>", message, replies)
        return replies

    sending = asyncio.create_task(send())
    await asyncio.sleep(0)
    for packet in packets:
        protocol.data_received(packet)
        await asyncio.sleep(0)
    return sending


async def test_a_group_is_one_write_and_its_replies_come_in_order_however_they_are_cut():
    protocol, transport = connected()
    sending = await answered(protocol, transport, b"250 sender ok\r\n250 rec", b"ipient ok\r\n354 go\r\n")
    assert transport.written[0] == b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n"
    assert transport.written[1:] == [b"Subject: x\r\n\r\nhi\r\n.\r\n"]  # on the 354, not before
    protocol.data_received(b"250 queued\r\n")
    replies = await sending
    assert [r.code for r in replies] == [250, 250, 354, 250]
    assert [r.message for r in replies] == ["sender ok", "recipient ok", "go", "queued"]


async def test_a_message_is_sent_with_its_dots_doubled_and_its_line_endings_made_crlf():
    protocol, transport = connected()
    sending = await answered(protocol, transport, b"250 a\r\n250 b\r\n354 c\r\n", message=b"x\n.hidden\n")
    protocol.data_received(b"250 queued\r\n")
    await sending
    assert transport.written[1] == b"x\r\n..hidden\r\n.\r\n"


async def test_a_refused_recipient_stops_the_message_and_a_354_after_it_gets_a_lone_dot():
    protocol, transport = connected()
    sending = await answered(protocol, transport, b"250 ok\r\n550 5.1.1 no such mailbox\r\n503 need RCPT\r\n")
    assert [r.code for r in await sending] == [250, 550, 503] and len(transport.written) == 1
    sending = await answered(protocol, transport, b"250 ok\r\n550 no\r\n354 go on anyway\r\n")
    protocol.data_received(b"554 no valid recipients\r\n")
    assert [r.code for r in await sending] == [250, 550, 354, 554]
    assert transport.written[-1] == b".\r\n"  # an empty message, never the mail


async def test_data_while_nothing_is_owed_is_dropped_and_never_read_as_a_later_reply():
    protocol, transport = connected()
    protocol.data_received(b"421 unsolicited\r\n")
    sending = await answered(protocol, transport, b"250 a\r\n250 b\r\n451 later\r\n")
    assert [r.code for r in await sending] == [250, 250, 451]


async def test_a_connection_lost_mid_group_raises_after_the_replies_that_came():
    protocol, transport = connected()
    received: list = []
    sending = await answered(protocol, transport, b"554 5.7.1 go away\r\n", received=received)
    protocol.connection_lost(None)
    with pytest.raises(SMTPServerDisconnected):
        await sending
    assert [r.code for r in received] == [554]  # kept for the caller to judge (smtp_session)


async def test_a_reply_while_the_last_one_waits_to_be_picked_up_is_dropped():
    protocol, transport = connected()
    reading = asyncio.create_task(protocol.read_response())  # a command of aiosmtplib's own (RSET)
    await asyncio.sleep(0)
    protocol.data_received(b"250 reset ok\r\n")
    protocol.data_received(b"250 stray\r\n")  # before the reader resumed
    assert (await reading).message == "reset ok"
    noop = asyncio.create_task(protocol.read_response())
    await asyncio.sleep(0)
    protocol.data_received(b"250 noop ok\r\n")
    assert (await noop).message == "noop ok"


async def test_what_follows_the_replies_asked_for_in_one_packet_is_dropped():
    protocol, transport = connected()
    reading = asyncio.create_task(protocol.read_response())
    await asyncio.sleep(0)
    protocol.data_received(b"250 reset ok\r\n250 stray\r\n")
    assert (await reading).message == "reset ok"
    noop = asyncio.create_task(protocol.read_response())
    await asyncio.sleep(0)
    protocol.data_received(b"250 noop ok\r\n")
    assert (await noop).message == "noop ok"


async def test_a_protocol_it_does_not_know_is_left_alone():
    class Other(SMTPProtocol):
        pass

    protocol = Other(loop=asyncio.get_running_loop())
    protocol.connection_made(Transport())
    assert PipeliningProtocol.take_over(protocol) is None and type(protocol) is Other
