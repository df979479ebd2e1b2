"""One SMTP connection that carries many e-mails: connect and EHLO once, then a MAIL, RCPT,
DATA exchange per e-mail (a new connection per e-mail was most of the notification service's
CPU per event, and as much again in the SMTP server).

After each e-mail the session is either still usable or closed:
- a refusal (a 4xx/5xx reply to MAIL, RCPT or DATA) concerns that e-mail only: the session
  resets the envelope (RSET; for an EmailMessage aiosmtplib's sendmail has sent one already), so
  that a reset it could not confirm (an error reply to that RSET) closes the session instead of
  leaving the next e-mail a half-finished envelope;
- the connection lost (the server closed it, a network error, a 421) or an exchange cut off at
  its deadline (the server's state is unknown) closes it and marks it `lost`: the e-mails
  queued behind it on this session are not tried now;
- any other error with the connection still up (aiosmtplib refusing a value before sending,
  e.g. a non-ASCII address the server takes no SMTPUTF8 for) closes it too, to start afresh,
  but it is not lost: the next e-mail opens a new session.
A session idle for longer than `idle_timeout` is closed before its next use (and by the
sender's loop), well before a server's own timeout (RFC 5321: at least 5 minutes) drops it.
"""

from __future__ import annotations

import time
from email.message import EmailMessage

import aiosmtplib
from aiosmtplib import SMTPStatus

from services.notification.plain_mail import PlainMail
from services.notification.smtp_pipelining import PipeliningProtocol

REFUSALS = (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)
QUIT_TIMEOUT = 1.0
"""Seconds a polite QUIT may take on closing (idle, or the service stopping)."""


class SmtpSession:
    def __init__(self, host: str, port: int, timeout: float, idle_timeout: float):
        self.host, self.port, self.timeout, self.idle_timeout = host, port, timeout, idle_timeout
        self._client: aiosmtplib.SMTP | None = None
        self._used_at = 0.0
        self.lost = False
        """The last failure was the connection's own (see the module docstring)."""
        self.opened = 0
        """Connections opened so far (for tests and logs)."""

    @property
    def is_open(self) -> bool:
        return self._client is not None and self._client.is_connected

    def is_idle(self, now: float | None = None) -> bool:
        return self.is_open and (now or time.monotonic()) - self._used_at > self.idle_timeout

    async def open(self) -> None:
        """Connect, unless open and not idle (EHLO follows with the first e-mail, as aiosmtplib
        does it); raises what the connection raised."""
        if self.is_open and not self.is_idle():
            return
        await self.close()
        client = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout)
        try:
            await client.connect()
        except BaseException:
            client.close()
            self.lost = True
            raise
        if client.protocol is not None:  # its replies queued: pipelining when the server offers it
            PipeliningProtocol.take_over(client.protocol)
        self._client, self._used_at, self.lost = client, time.monotonic(), False
        self.opened += 1

    async def send(self, mail: PlainMail | EmailMessage) -> None:
        """Hand one e-mail over on the open session; raises its refusal or failure, after
        which `is_open` tells whether the next e-mail may follow on this session."""
        if self._client is None:
            raise aiosmtplib.SMTPServerDisconnected("the SMTP session is not open")
        client = self._client
        try:
            if isinstance(mail, PlainMail):
                await self._send_plain(client, mail)
            else:
                await client.send_message(mail)  # envelope from the From and To headers
        except REFUSALS:
            await self._confirm_reset(client)
            raise
        except Exception:  # lost, or refused by aiosmtplib before it sent anything
            self.lost = not client.is_connected
            self.abort()
            raise
        except BaseException:  # cut off at the deadline (cancelled): the server's state is unknown
            self.lost = True
            self.abort()
            raise
        finally:
            self._used_at = time.monotonic()

    @staticmethod
    async def _send_plain(client: aiosmtplib.SMTP, mail: PlainMail) -> None:
        """As send_message sends it: EHLO (HELO when refused) first if needed, then MAIL (with
        SIZE when the server takes it, BODY=8BITMIME when it offers it: the bytes are ASCII, no
        SMTPUTF8), RCPT and DATA. Not through `sendmail`, which parses both addresses twice
        over (Python's address parser was a fifth of the sender's CPU), nor through `mail` and
        `rcpt`, which parse each once more (a third of what was left): MAIL and RCPT go through
        aiosmtplib's `execute_command` with the addresses quoted once (plain_mail), their
        replies judged as `mail` and `rcpt` judge them, raising what they raise. A refused
        recipient is raised as sendmail raises it when it refuses every recipient."""
        if client.is_ehlo_or_helo_needed:
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                if not client.is_connected:
                    raise
                await client.helo()
        options = [b"SIZE=%d" % len(mail.data)] if client.supports_extension("size") else []
        if client.supports_extension("8BITMIME"):
            options.append(b"BODY=8BITMIME")
        if client.supports_extension("pipelining") and isinstance(client.protocol, PipeliningProtocol):
            await _send_pipelined(client, client.protocol, mail, options)
            return
        reply = await client.execute_command(b"MAIL", mail.mail_from, *options)
        _judge_mail(reply, mail)
        reply = await client.execute_command(b"RCPT", mail.rcpt_to)
        _judge_rcpt(reply, mail)
        await client.data(mail.data)

    async def _confirm_reset(self, client: aiosmtplib.SMTP) -> None:
        """The refusal stays the e-mail's error; a reset that fails closes the session."""
        try:
            if client.is_connected:
                await client.rset()
                return
        except Exception:  # noqa: S110 (closed below: the next e-mail opens a new session)
            pass
        except BaseException:
            self.lost = True
            self.abort()
            raise
        self.lost = not client.is_connected  # a 421 closed it; an error reply to RSET did not
        self.abort()

    def abort(self) -> None:
        """Drop the connection at once (its state is unknown)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        """QUIT politely when open (bounded by the step timeout), then drop the connection."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit(timeout=min(self.timeout, QUIT_TIMEOUT))
        except Exception:  # noqa: S110 (the server going away as we leave it is no failure)
            pass
        finally:
            client.close()


async def _send_pipelined(client: aiosmtplib.SMTP, protocol: PipeliningProtocol, mail: PlainMail,
                          options: list[bytes]) -> None:
    """MAIL, RCPT and DATA in one group, then the message (smtp_pipelining): each reply judged
    in turn as aiosmtplib judges it, so the first refused step raises what it raises in
    sequence; a 421 among them closes the connection. A read that fails (a timeout, the
    connection lost, a reply that cannot be parsed) closes it too, the replies being out of
    step; what the server answered before it is judged first, so a refusal followed by the
    server hanging up is that refusal, as it is command by command."""
    replies: list = []
    try:
        await protocol.send_pipelined((mail.mail_from, *options), mail.rcpt_to, mail.data,
                                      received=replies, timeout=client.timeout)
    except Exception:
        client.close()  # never paired with a later command
        _judge(replies, mail)
        raise
    if any(reply.code == SMTPStatus.domain_unavailable for reply in replies):
        client.close()
    _judge(replies, mail)


def _judge(replies: list, mail: PlainMail) -> None:
    """The group's replies received so far, judged in order (the first refusal raised)."""
    if replies:
        _judge_mail(replies[0], mail)
    if len(replies) > 1:
        _judge_rcpt(replies[1], mail)
    for reply, expected in zip(replies[2:], (SMTPStatus.start_input, SMTPStatus.completed)):
        if reply.code != expected:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)


def _judge_mail(reply, mail: PlainMail) -> None:
    """As aiosmtplib's `mail` judges its reply."""
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail.sender)


def _judge_rcpt(reply, mail: PlainMail) -> None:
    """As aiosmtplib's `rcpt` judges it, raised as sendmail raises its only recipient refused."""
    if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, mail.recipient)])
