"""E-mails waiting to be sent. Rows are written with the inbox entries (store.record); the
sender claims due rows for a lease, so two senders never send one row at the same time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from services.notification.tables import email_outbox

o = email_outbox.c


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
                taken = conn.execute(update(email_outbox).where(
                    o.id == row["id"], o.next_attempt_at == row["next_attempt_at"]).values(
                    next_attempt_at=now + lease)).rowcount
                if taken == 1:
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
