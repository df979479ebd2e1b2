"""Drains the e-mail outbox over SMTP (aiosmtplib), in the background.

Each e-mail has its own exponential backoff, stored with it: an SMTP outage delays e-mails,
never the consumer or the inbox, and one recipient's failure never holds up another's.

A claimed batch is spread over at most `sessions` SMTP sessions (smtp_session.py), kept open
between batches: each session sends its share one e-mail after another over one connection
(a connection per e-mail cost more CPU than everything else the service does for an event).
A refusal fails that e-mail only, and the session goes on. A connection-level failure (the
server gone, an exchange cut off at its deadline) ends the session: the e-mails it had not
sent yet fail too (a transient failure, with their backoff: they are never given up for
another e-mail's refusal) and the next batch opens a new one. E-mails the server accepted
before are marked sent, never sent again. The outcomes of a batch are recorded in one
transaction once every session is done.

A claimed e-mail is leased to this sender; the lease must outlast the whole send, or a second
sender claims the row mid-send. aiosmtplib's timeout bounds each step (connect, EHLO, MAIL,
RCPT, DATA, ...), not the exchange, so each e-mail's exchange (opening the session when it
needs one) is cut off after SEND_STEPS x timeout; a session sends its share in turn, so the
lease is that many deadlines plus LEASE_MARGIN for recording the outcomes. A row whose sender
died before its outcome was recorded is given up after its lease, not sent again (email_outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import aiosmtplib
import structlog
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from services.notification.email_outbox import EmailOutbox, Outcomes, OutgoingEmail
from services.notification.metrics import NotificationMetrics
from services.notification.plain_mail import PlainMail, PlainMails, message_id
from services.notification.smtp_session import SmtpSession

log = structlog.get_logger("notification.mailer")
SEND_STEPS = 3
"""A whole SMTP exchange may last this many per-step timeouts before it is abandoned."""
LEASE_MARGIN = timedelta(seconds=30)
"""Lease time beyond the longest send: for claiming the batch and marking the row sent."""
RECORD_ATTEMPTS = 4
"""Tries at recording a batch's outcomes (0.5, 1, 2 s apart: well inside LEASE_MARGIN)."""


@dataclass(frozen=True)
class SmtpServer:
    host: str = "127.0.0.1"
    port: int = 8025
    sender: str = "Dispute platform <disputes@dispute-platform.localhost>"
    timeout: float = 10.0
    sessions: int = 4
    """SMTP sessions at most at once (NOTIFICATION_SMTP_SESSIONS)."""
    idle_timeout: float = 30.0
    """A session unused this long is closed (NOTIFICATION_SMTP_IDLE_TIMEOUT)."""


@dataclass(frozen=True)
class Backoff:
    max_attempts: int = 10
    initial: float = 1.0
    maximum: float = 300.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.initial * 2 ** (attempts - 1), self.maximum))


def as_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, email.to_address, email.subject
    message["Message-ID"] = message_id(email)
    message["X-Dispute-Event-Id"] = email.event_id
    message.set_content(email.body)
    return message


class SessionLost(Exception):
    """The failure of an e-mail the session never got to: the session failed before it."""


class EmailSender:
    def __init__(self, outbox: EmailOutbox, smtp: SmtpServer, backoff: Backoff,
                 poll_interval: float = 0.5, batch: int = 20,
                 metrics: NotificationMetrics | None = None):
        self.outbox, self.smtp, self.backoff = outbox, smtp, backoff
        self.metrics = metrics or NotificationMetrics()
        self.poll_interval, self.batch = poll_interval, batch
        self.sessions = [SmtpSession(smtp.host, smtp.port, smtp.timeout, smtp.idle_timeout)
                         for _ in range(max(1, smtp.sessions))]
        self.plain = PlainMails(smtp.sender)
        self.send_deadline = smtp.timeout * SEND_STEPS
        in_turn = math.ceil(batch / len(self.sessions))  # e-mails one session sends one after another
        self.lease = timedelta(seconds=self.send_deadline * in_turn) + LEASE_MARGIN
        self._woken: asyncio.Event | None = None  # made by `run`, on the loop it runs on

    def wake(self) -> None:
        """New e-mails are in the outbox (the consumer of this process stored a batch): an idle
        sender claims them now instead of at its next poll. Called on the sender's event loop."""
        if self._woken is not None:
            self._woken.set()

    async def run(self) -> None:
        woken = self._woken = asyncio.Event()
        try:
            while True:
                woken.clear()  # before the claim: what is stored during it wakes the next wait
                claimed: int | None
                try:
                    claimed = await self.drain_once()
                except Exception as error:  # the database may be down: keep the loop alive
                    log.error("outbox_unavailable", error=repr(error))
                    claimed = None
                await self.close_idle()
                if claimed is None:
                    await asyncio.sleep(self.poll_interval)  # retried at the poll's pace, not the wake-ups'
                elif not claimed:
                    await self._idle(woken)
        finally:
            self._woken = None
            await self.close()

    async def _idle(self, woken: asyncio.Event) -> None:
        """Until woken, or the poll interval (e-mails due for a retry, or stored by another
        replica of the service, are found by the poll). `asyncio.timeout`, not `wait_for`: on
        Python 3.11 `wait_for` can swallow a cancellation that meets a wake-up, and the service
        would never stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.poll_interval):
                await woken.wait()

    async def drain_once(self) -> int:
        now = datetime.now(timezone.utc)
        emails = await asyncio.to_thread(self.outbox.claim_due, now, self.lease, self.batch)
        if not emails:
            return 0
        outcomes, ready = Outcomes(), []
        for email in emails:
            try:
                # written directly when plain (the same bytes), else by the email package
                ready.append((email, self.plain.of(email) or as_message(email, self.smtp.sender)))
            except Exception as error:  # e.g. a header with CR/LF: it will never build, so give up
                outcomes.give_up(email, email.attempts + 1, repr(error))
        shares = [ready[n::len(self.sessions)] for n in range(len(self.sessions))]
        started: set[str] = set()  # the e-mails handed to a session (their outcome may be unknown)
        try:
            await asyncio.gather(*(self._send_share(session, share, outcomes, started)
                                   for session, share in zip(self.sessions, shares) if share))
        except asyncio.CancelledError:  # the service stops mid-batch (SIGTERM, a deploy)
            try:
                await asyncio.shield(self._record_stopped(outcomes, ready, started))
            except Exception as error:  # the database away too: the lease decides, as before
                log.error("outbox_unavailable_at_stop", error=repr(error))
            raise  # the stop goes on whatever the recording did
        await self._record(outcomes)
        self._report(outcomes)
        return len(emails)

    async def _record_stopped(self, outcomes: Outcomes, ready: list, started: set[str]) -> None:
        """What is known of a batch cut short: the e-mails no session had begun are due again
        at once (not an attempt), so they are not given up after the lease as unknown; an
        e-mail cut off mid-exchange keeps its DELIVERY_STARTED mark (given up after its lease,
        as the server may have accepted it: never sent twice)."""
        decided = {e.id for e in outcomes.sent} | {e.id for e, *_ in outcomes.retries} | {
            e.id for e, *_ in outcomes.given_up}
        now = datetime.now(timezone.utc)
        for email, _ in ready:
            if email.id not in decided and email.id not in started:
                outcomes.retry(email, email.attempts, now, "not sent yet: the sender stopped")
        await self._record(outcomes)
        self._report(outcomes)

    async def _record(self, outcomes: Outcomes) -> None:
        """The batch's outcomes, tried again on a passing database fault (a failover, a lock
        timeout) within the lease's margin: dropped, every row of the batch would be given up
        after its lease, sent or not. The updates are by id: running them twice is harmless."""
        async for attempt in AsyncRetrying(stop=stop_after_attempt(RECORD_ATTEMPTS), reraise=True,
                                           wait=wait_exponential(multiplier=0.5, max=5)):
            with attempt:
                await asyncio.to_thread(self.outbox.record, outcomes, datetime.now(timezone.utc))

    async def _send_share(self, session: SmtpSession, share: list, outcomes: Outcomes,
                          started: set[str]) -> None:
        for index, (email, message) in enumerate(share):
            started.add(email.id)
            try:
                # a deadline on this task (wait_for made a task of every e-mail's exchange)
                async with asyncio.timeout(self.send_deadline):
                    await self._exchange(session, message)
            except Exception as error:  # SMTP, network, the deadline, or the unforeseen: an attempt
                # that escaped here would leave the row claimed, re-claimed every lease, never counted
                self._failed(outcomes, email, error)
                if session.lost:  # the connection failed: the rest never got their turn
                    lost = SessionLost(f"the SMTP session failed before this e-mail: {error!r}")
                    for later, _ in share[index + 1:]:
                        self._failed(outcomes, later, lost)
                    return
                continue
            outcomes.sent.append(email)

    @staticmethod
    async def _exchange(session: SmtpSession, message: PlainMail | EmailMessage) -> None:
        await session.open()  # when it is not open (or was idle too long)
        await session.send(message)

    def _failed(self, outcomes: Outcomes, email: OutgoingEmail, error: Exception) -> None:
        attempts, now = email.attempts + 1, datetime.now(timezone.utc)
        permanent = _permanent(error)
        if permanent or attempts >= self.backoff.max_attempts:
            outcomes.give_up(email, attempts, repr(error))
            return
        outcomes.retry(email, attempts, now + self.backoff.delay(attempts), repr(error))

    def _report(self, outcomes: Outcomes) -> None:
        for email in outcomes.sent:
            self.metrics.email("sent")
            log.info("email_sent", recipient=email.recipient, event_id=email.event_id)
        for email, attempts, retry_at, error in outcomes.retries:
            self.metrics.email("retry_scheduled")
            log.warning("email_retry_scheduled", recipient=email.recipient, attempts=attempts,
                        retry_at=retry_at.isoformat(), error=error)
        for email, attempts, error in outcomes.given_up:
            self.metrics.email("given_up")
            log.error("email_given_up", recipient=email.recipient, event_id=email.event_id,
                      attempts=attempts, error=error)

    async def close_idle(self) -> None:
        for session in self.sessions:
            if session.is_idle():
                await session.close()

    async def close(self) -> None:
        """QUIT every open session (the service stopping)."""
        for session in self.sessions:
            await session.close()


def _permanent(error: Exception) -> bool:
    """A 5xx reply: to MAIL or DATA (a response exception), or to RCPT (aiosmtplib raises the
    one recipient's refusal inside SMTPRecipientsRefused, which carries no code of its own)."""
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return error.code >= 500
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(refused.code >= 500 for refused in error.recipients)
    return False
