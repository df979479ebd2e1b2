"""ESMTP PIPELINING (RFC 2920) on aiosmtplib's own protocol object: a plain mail's MAIL, RCPT
and DATA go in one write and their three replies are read in order, then the message in a
second write: two round trips and two socket sends a mail instead of four (the sends were the
largest cost of the sender, and every command cost the SMTP server a wake-up and a send too).

aiosmtplib (5.1.3) cannot do it through its API: its protocol keeps one reply waiter, drops
data that arrives while no read is pending or while the last reply waits to be picked up, and
leaves a second reply of one read in its buffer unread. `PipeliningProtocol` is that protocol
with a queue of replies: every complete reply is parsed off the buffer as it arrives while
replies are owed (a read in progress, or a pipelined group's replies not all in), and read in
order; data while nothing is owed is dropped as aiosmtplib drops it (never paired with a later
command). It adds methods only, so a connected `aiosmtplib.SMTP`'s protocol is given them
(`take_over`) and keeps its state: the lock, the waiter, STARTTLS, the connection-lost
callback; aiosmtplib's own commands (EHLO, RSET, QUIT) read through the same queue. It is then
set on its transport again, which uvloop (the services' loop) needs to call its methods.

Used only when the server advertises PIPELINING; the group is judged reply by reply as
aiosmtplib's `mail`, `rcpt` and `data` judge them (smtp_session.py), so a refusal is the same
exception, raised for the first refused step. RFC 2920 3.1: a DATA accepted (354) after a
refused MAIL or RCPT is answered with a lone dot, an empty message the server must not deliver.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiosmtplib import SMTPReadTimeoutError, SMTPResponseException, SMTPServerDisconnected, SMTPStatus
from aiosmtplib.protocol import (COMMAND_INJECTION_REGEX, MAX_RESPONSE_LENGTH, PERIOD_REGEX,
                                 SMTPProtocol, normalize_message_line_endings)
from aiosmtplib.response import SMTPResponse


_STATE = ("_response_waiter", "_response_pending", "_buffer", "_command_lock", "_loop",
          "_read_response_from_buffer", "_set_response_exception", "transport")
"""aiosmtplib's (5.1.3) private state and methods this class works with."""


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's SMTPProtocol with its replies queued (see the module docstring). No state of
    its own beyond `_replies` and `_owed`, set by `take_over`."""

    _replies: deque[SMTPResponse]
    _owed: int
    """Replies of a pipelined group not received yet (data is taken while > 0)."""

    @classmethod
    def take_over(cls, protocol: SMTPProtocol) -> "PipeliningProtocol | None":
        """The connected protocol itself, with this class's methods (between commands: nothing
        is owed and its buffer holds no reply); None (the mail goes command by command) if it
        is not aiosmtplib's own protocol with the private state this class works on (another
        aiosmtplib than the pinned one, or a subclass)."""
        if type(protocol) is not SMTPProtocol or not all(hasattr(protocol, name) for name in _STATE):
            return None
        protocol.__class__ = cls
        assert isinstance(protocol, PipeliningProtocol)
        protocol._replies, protocol._owed = deque(), 0
        if protocol.transport is not None:
            # handed to its transport again: uvloop keeps the protocol's bound data_received from
            # connection_made, so without this it would go on calling aiosmtplib's own
            protocol.transport.set_protocol(protocol)
        return protocol

    def data_received(self, data: bytes) -> None:
        waiter = self._response_waiter
        if waiter is None or not self._owed and (not self._response_pending or waiter.done()):
            # the connection lost; or nothing asked for (no read pending, or its reply already
            # parsed and waiting to be picked up): dropped, as aiosmtplib drops it, so it can
            # never be paired with a later command
            return
        self._buffer.extend(data)
        try:
            while (reply := self._read_response_from_buffer()) is not None:
                self._replies.append(reply)
                self._owed = max(0, self._owed - 1)
                if not self._owed:  # all that was asked for: what follows it was not
                    del self._buffer[:]
                    break
            if len(self._buffer) > MAX_RESPONSE_LENGTH:
                del self._buffer[:]
                raise SMTPResponseException(SMTPStatus.invalid_response.value, "Response too long")
        except Exception as exc:  # malformed or too long: the reader gets it, as from aiosmtplib
            if not waiter.done():
                self._set_response_exception(waiter, exc)
            return
        if self._replies and not waiter.done():
            # wake the reader (the replies are in the queue; aiosmtplib types its waiter as a reply's)
            waiter.set_result(None)  # type: ignore[arg-type]

    async def read_response(self, timeout: float | None = None) -> SMTPResponse:
        """The next reply, in order; raises as aiosmtplib's read_response raises (a timeout,
        the connection lost)."""
        while not self._replies:
            if self._response_waiter is None:
                raise SMTPServerDisconnected("Connection lost")
            self._response_pending = True
            try:
                woken = await asyncio.wait_for(self._response_waiter, timeout)
            except (TimeoutError, asyncio.TimeoutError) as exc:
                raise SMTPReadTimeoutError("Timed out waiting for server response") from exc
            finally:
                self._response_pending = False
                self._response_waiter = None if self.transport is None else self._loop.create_future()
            if woken is not None:  # the closing reply aiosmtplib makes up when QUIT ends the connection
                return woken
        return self._replies.popleft()

    async def send_pipelined(self, mail_from: tuple[bytes, ...], rcpt_to: bytes, message: bytes,
                             received: list[SMTPResponse], timeout: float | None = None) -> None:
        """MAIL FROM `mail_from` (the address and its options), RCPT `rcpt_to` and DATA in one
        write, then the message (line endings normalised and dots doubled, as aiosmtplib's
        DATA sends it) if DATA was answered 354: the replies to MAIL, RCPT, DATA and, when the
        message went, to it, appended to `received` as they are read (so a caller whose read
        failed still judges what the server said before: a refusal, then the connection closed)."""
        for arg in (*mail_from, rcpt_to):
            if COMMAND_INJECTION_REGEX.search(arg):
                raise ValueError("Command arg contains a prohibited control character")
        if self._command_lock is None:
            raise SMTPServerDisconnected("Server not connected")
        group = b"MAIL " + b" ".join(mail_from) + b"\r\nRCPT " + rcpt_to + b"\r\nDATA\r\n"
        async with self._command_lock:
            self._owed += 3
            self.write(group)
            for _ in range(3):
                received.append(await self.read_response(timeout))
            if received[2].code != SMTPStatus.start_input:
                return
            refused = received[0].code != SMTPStatus.completed or received[1].code not in (
                SMTPStatus.completed, SMTPStatus.will_forward)
            self._owed += 1
            self.write(b".\r\n" if refused else
                       PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n")
            received.append(await self.read_response(timeout))
