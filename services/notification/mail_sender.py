"""Drains the e-mail outbox over SMTP (aiosmtplib), in the background.

Each e-mail has its own exponential backoff, stored with it: an SMTP outage delays e-mails,
never the consumer or the inbox, and one recipient's failure never holds up another's.

A claimed e-mail is leased to this sender; the lease must outlast the whole send, or a second
sender claims the row mid-send and the mail goes out twice. aiosmtplib's timeout bounds each
step (connect, EHLO, MAIL, RCPT, DATA, ...), not the exchange, so the exchange is cut off after
SEND_STEPS x timeout, and the lease adds LEASE_MARGIN for marking the row afterwards. A row
whose sender died during delivery is given up after its lease, not sent again (email_outbox).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import aiosmtplib
import structlog

from services.notification.email_outbox import EmailOutbox, OutgoingEmail
from services.notification.metrics import NotificationMetrics

log = structlog.get_logger("notification.mailer")
SEND_STEPS = 3
"""A whole SMTP exchange may last this many per-step timeouts before it is abandoned."""
LEASE_MARGIN = timedelta(seconds=30)
"""Lease time beyond the longest send: for claiming the batch and marking the row sent."""


@dataclass(frozen=True)
class SmtpServer:
    host: str = "127.0.0.1"
    port: int = 8025
    sender: str = "Dispute platform <disputes@dispute-platform.localhost>"
    timeout: float = 10.0


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
    digest = hashlib.sha256(email.recipient.encode()).hexdigest()[:16]
    # stable per (event, recipient): a resend after a crash is recognisably the same e-mail
    message["Message-ID"] = f"<{email.event_id}.{digest}@dispute-platform>"
    message["X-Dispute-Event-Id"] = email.event_id
    message.set_content(email.body)
    return message


class EmailSender:
    def __init__(self, outbox: EmailOutbox, smtp: SmtpServer, backoff: Backoff,
                 poll_interval: float = 0.5, batch: int = 20,
                 metrics: NotificationMetrics | None = None):
        self.outbox, self.smtp, self.backoff = outbox, smtp, backoff
        self.metrics = metrics or NotificationMetrics()
        self.poll_interval, self.batch = poll_interval, batch
        self.send_deadline = smtp.timeout * SEND_STEPS
        self.lease = timedelta(seconds=self.send_deadline) + LEASE_MARGIN

    async def run(self) -> None:
        while True:
            try:
                claimed = await self.drain_once()
            except Exception as error:  # the database may be down: keep the loop alive
                log.error("outbox_unavailable", error=repr(error))
                claimed = 0
            if not claimed:
                await asyncio.sleep(self.poll_interval)

    async def drain_once(self) -> int:
        now = datetime.now(timezone.utc)
        emails = await asyncio.to_thread(self.outbox.claim_due, now, self.lease, self.batch)
        await asyncio.gather(*(self._deliver(email) for email in emails))
        return len(emails)

    async def _deliver(self, email: OutgoingEmail) -> None:
        try:
            message = as_message(email, self.smtp.sender)
        except Exception as error:  # e.g. a header with CR/LF: it will never build, so give up
            await asyncio.to_thread(self._give_up, email, email.attempts + 1, error)
            return
        try:
            await asyncio.wait_for(self._send(message), self.send_deadline)
        except Exception as error:  # SMTP, network, the deadline, or the unforeseen: an attempt
            # that escaped here would leave the row claimed, re-claimed every lease, never counted
            await asyncio.to_thread(self._failed, email, error)
            return
        await asyncio.to_thread(self.outbox.mark_sent, email.id, datetime.now(timezone.utc))
        self.metrics.email("sent")
        log.info("email_sent", recipient=email.recipient, event_id=email.event_id)

    async def _send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(message, hostname=self.smtp.host, port=self.smtp.port,
                              timeout=self.smtp.timeout)

    def _failed(self, email: OutgoingEmail, error: Exception) -> None:
        attempts, now = email.attempts + 1, datetime.now(timezone.utc)
        permanent = isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500
        if permanent or attempts >= self.backoff.max_attempts:
            self._give_up(email, attempts, error)
            return
        retry_at = now + self.backoff.delay(attempts)
        self.outbox.retry_later(email.id, attempts, retry_at, repr(error))
        self.metrics.email("retry_scheduled")
        log.warning("email_retry_scheduled", recipient=email.recipient, attempts=attempts,
                    retry_at=retry_at.isoformat(), error=repr(error))

    def _give_up(self, email: OutgoingEmail, attempts: int, error: Exception) -> None:
        self.outbox.give_up(email.id, attempts, datetime.now(timezone.utc), repr(error))
        self.metrics.email("given_up")
        log.error("email_given_up", recipient=email.recipient, event_id=email.event_id,
                  attempts=attempts, error=repr(error))
