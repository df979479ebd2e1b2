"""E-mails waiting to be sent. Rows are written with the inbox entries (store.record); the
sender claims due rows for a lease, so two senders never send one row at the same time.

An e-mail goes out at most once: a claim marks the row DELIVERY_STARTED, and every outcome
(sent, failed and retried later, given up) replaces the mark. A row still marked when its
lease ends lost its sender during delivery (killed, say, after the SMTP server took the mail
and before it was marked sent): whether it arrived is unknown, so it is given up, not sent a
second time. The inbox entry, written with the row, is there either way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine, select, update

from services.notification.tables import email_outbox

log = structlog.get_logger("notification")
o = email_outbox.c
DELIVERY_STARTED = "delivery started; no outcome recorded yet"
OUTCOME_UNKNOWN = ("its sender stopped during delivery: not sent again, so that it never arrives "
                   "twice (it may have arrived once)")


@dataclass(frozen=True)
class OutgoingEmail:
    id: str
    event_id: str
    recipient: str
    to_address: str
    subject: str
    body: str
    attempts: int


class EmailOutbox:
    def __init__(self, engine: Engine):
        self.engine = engine

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 20) -> list[OutgoingEmail]:
        """Due, unsent e-mails, each pushed `lease` into the future so no one else takes it."""
        due = (select(email_outbox).where(o.sent_at.is_(None), o.failed_at.is_(None),
                                          o.next_attempt_at <= now)
               .order_by(o.next_attempt_at).limit(limit))
        claimed = []
        with self.engine.begin() as conn:
            for row in conn.execute(due).mappings().all():
                unknown = row["last_error"] == DELIVERY_STARTED
                change = (dict(failed_at=now, last_error=OUTCOME_UNKNOWN) if unknown else
                          dict(next_attempt_at=now + lease, last_error=DELIVERY_STARTED))
                taken = conn.execute(update(email_outbox).where(
                    o.id == row["id"], o.next_attempt_at == row["next_attempt_at"]).values(
                    **change)).rowcount
                if taken == 1 and unknown:
                    log.warning("email_outcome_unknown", recipient=row["recipient"],
                                event_id=row["event_id"], attempts=row["attempts"])
                elif taken == 1:
                    claimed.append(OutgoingEmail(*(row[f] for f in OutgoingEmail.__dataclass_fields__)))
        return claimed

    def mark_sent(self, email_id: str, now: datetime) -> None:
        self._set(email_id, sent_at=now, last_error=None)

    def retry_later(self, email_id: str, attempts: int, at: datetime, error: str) -> None:
        self._set(email_id, attempts=attempts, next_attempt_at=at, last_error=error[:1000])

    def give_up(self, email_id: str, attempts: int, now: datetime, error: str) -> None:
        self._set(email_id, attempts=attempts, failed_at=now, last_error=error[:1000])

    def emails(self, recipient: str | None = None) -> list[dict]:
        query = select(email_outbox).order_by(o.created_at, o.id)
        if recipient is not None:
            query = query.where(o.recipient == recipient)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def _set(self, email_id: str, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(email_outbox).where(o.id == email_id).values(**values))
