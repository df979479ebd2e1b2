"""SMTP servers that misbehave on purpose, for the e-mail sender's tests: `ScriptedSmtp` is
aiosmtpd (the library the local sink is built on) with hooks that refuse recipients, refuse
data, or drop the connection at a given MAIL command, and records which connection carried
each accepted mail; `SlowSmtp` answers every step just within the client's timeout."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from infra.ports import free_port


@dataclass
class Script:
    refuse_recipients: set[str] = field(default_factory=set)
    """RCPT TO these addresses is answered 550 (the mailbox does not exist)."""
    defer_recipients: set[str] = field(default_factory=set)
    """RCPT TO these addresses is answered 450 (mailbox busy: try again later)."""
    refuse_data_for: set[str] = field(default_factory=set)
    """The DATA of a mail to these addresses is answered 554 (refused for good)."""
    smtputf8: bool = True
    """Offer SMTPUTF8 (aiosmtpd's default): without it the client refuses a non-ASCII address."""
    refuse_mail_at: dict[int, str] = field(default_factory=dict)
    """The MAIL command of this number (1 = the server's first) is answered with this reply."""
    forward_recipients: set[str] = field(default_factory=set)
    """RCPT TO these addresses is answered 251 (not local, will forward): accepted."""
    pipelining: bool = False
    """Offer PIPELINING (RFC 2920; aiosmtpd answers a pipelined group's commands in order)."""
    hang_up_after_refusing_mail: bool = False
    """The server closes the connection right after a `refuse_mail_at` reply (a policy
    rejection): the reply reaches the client, nothing after it does."""
    drop_at_mail: int | None = None
    """The connection is dropped, without a reply, at this MAIL command of the server's life
    (1 = the first), once."""


class _Hooks:
    def __init__(self, script: Script):
        self.script = script
        self.accepted: list[tuple[tuple, str]] = []  # (client's (host, port), recipient)
        self.envelopes: list = []  # every accepted mail's envelope (aiosmtpd's Envelope)
        self.mail_commands = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # as aiosmtpd sets it without this hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.script.pipelining else responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_commands += 1
        if self.mail_commands == self.script.drop_at_mail:
            server.transport.abort()
            return "421 gone"  # never reaches the client: the connection is already down
        if self.mail_commands in self.script.refuse_mail_at:
            if self.script.hang_up_after_refusing_mail:
                # the reply on the wire (an empty buffer is written at once), then the connection
                # cut: nothing after it (a pipelined RCPT's and DATA's replies) reaches the client
                server.transport.write(self.script.refuse_mail_at[self.mail_commands].encode() + b"\r\n")
                server.transport.abort()
                return "421 gone"  # never reaches the client
            return self.script.refuse_mail_at[self.mail_commands]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.script.refuse_recipients:
            return "550 5.1.1 no such mailbox"
        if address in self.script.defer_recipients:
            return "450 4.2.1 mailbox busy"
        envelope.rcpt_tos.append(address)
        return "251 will forward" if address in self.script.forward_recipients else "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if set(envelope.rcpt_tos) & self.script.refuse_data_for:
            return "554 5.7.1 message refused"
        self.accepted.extend((session.peer, to) for to in envelope.rcpt_tos)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class ScriptedSmtp:
    def __init__(self, script: Script | None = None):
        script = script or Script()
        self.hooks = _Hooks(script)
        self.controller = Controller(self.hooks, hostname="127.0.0.1", port=free_port(),
                                     enable_SMTPUTF8=script.smtputf8)

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def accepted(self) -> list[str]:
        return [to for _, to in self.hooks.accepted]

    @property
    def connections(self) -> int:
        """Connections that carried at least one accepted mail."""
        return len({peer for peer, _ in self.hooks.accepted})

    def __enter__(self) -> "ScriptedSmtp":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class SlowSmtp:
    """Answers every SMTP step just within the per-step timeout, so only a bound on the whole
    exchange stops it."""

    def __init__(self, step: float):
        self.step, self.port, self.server = step, free_port(), None
        self.connections = 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._session, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _reply(self, writer, line: bytes) -> None:
        await asyncio.sleep(self.step)
        writer.write(line + b"\r\n")
        await writer.drain()

    async def _session(self, reader, writer) -> None:
        self.connections += 1
        try:
            await self._reply(writer, b"220 slow.example ESMTP")
            while line := await reader.readline():
                verb = line.split()[0].upper() if line.split() else b""
                if verb == b"DATA":
                    await self._reply(writer, b"354 go on")
                    while (await reader.readline()) not in (b".\r\n", b""):
                        pass
                await self._reply(writer, b"221 bye" if verb == b"QUIT" else b"250 ok")
                if verb == b"QUIT":
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


class LockstepSmtp:
    """A server that offers PIPELINING and answers a mail's MAIL, RCPT and DATA only once it
    has all three, in one write (a client waiting for each reply would wait for ever): the
    pipelined group, and a client reading several replies off one packet. `accepted`: the
    recipients of the mails it took."""

    def __init__(self):
        self.port, self.server, self.accepted = free_port(), None, []
        self.groups: list[list[bytes]] = []  # the verbs answered together

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._session, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _session(self, reader, writer) -> None:
        writer.write(b"220 lockstep.example ESMTP\r\n")
        group: list[bytes] = []
        try:
            while line := await reader.readline():
                verb = line.split()[0].upper() if line.split() else b""
                if verb == b"EHLO":
                    writer.write(b"250-lockstep.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb in (b"MAIL", b"RCPT"):
                    group.append(line)
                elif verb == b"DATA":
                    self.groups.append([g.split()[0].upper() for g in group] + [verb])
                    writer.write(b"250 sender ok\r\n250 recipient ok\r\n354 go on\r\n")
                    while (await reader.readline()) not in (b".\r\n", b""):
                        pass
                    self.accepted.append(group[1].split(b":", 1)[1].strip(b"<>\r\n").decode())
                    group = []
                    writer.write(b"250 queued\r\n")
                else:
                    writer.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")
                    if verb == b"QUIT":
                        break
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
