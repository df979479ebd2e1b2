"""E-mails waiting to be sent. Rows are written with the inbox entries (store.record); the
sender claims due rows for a lease, so two senders never send one row at the same time.

An e-mail goes out at most once: a claim marks the row DELIVERY_STARTED, and every outcome
(sent, failed and retried later, given up) replaces the mark. A row still marked when its
lease ends lost its sender during delivery (killed, say, after the SMTP server took the mail
and before it was marked sent): whether it arrived is unknown, so it is given up, not sent a
second time. The inbox entry, written with the row, is there either way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine, any_, bindparam, case, func, select, update

from services.notification.tables import email_outbox

log = structlog.get_logger("notification")
o = email_outbox.c
_BY_ID = update(email_outbox).where(o.id == bindparam("row"))
_SENT = (update(email_outbox).where(o.id.in_(bindparam("ids", expanding=True)))
         .values(sent_at=bindparam("now", type_=o.sent_at.type), last_error=None))
_RETRY = _BY_ID.values(attempts=bindparam("n"), next_attempt_at=bindparam("at", type_=o.next_attempt_at.type),
                       last_error=bindparam("error"))
_GIVE_UP = _BY_ID.values(attempts=bindparam("n"), failed_at=bindparam("now", type_=o.failed_at.type),
                         last_error=bindparam("error"))


def _is_due(now) -> tuple:
    return o.sent_at.is_(None), o.failed_at.is_(None), o.next_attempt_at <= now


DELIVERY_STARTED = "delivery started; no outcome recorded yet"
OUTCOME_UNKNOWN = ("its sender stopped during delivery: not sent again, so that it never arrives "
                   "twice (it may have arrived once)")


def _claim_statement(postgres: bool):
    """The claim, built once with bound parameters (`now`, `until`: now + the lease, `limit`):
    built per call, SQLAlchemy's expression building and cache key were three quarters of the
    claim's CPU, the sender's largest cost after SMTP. Due rows evaluated once (materialised):
    as a plain IN (subquery) PostgreSQL may scan it again, past its LIMIT and into rows another
    claim skipped.

    On PostgreSQL the rows are then updated by id (`id = ANY(ARRAY(...))`: the primary key's
    index), with no second test of being due: the CTE's FOR UPDATE SKIP LOCKED already locked
    each row and, in READ COMMITTED, tested its condition again on the version it locked (a
    row changed meanwhile that is no longer due is not returned). With that second test the
    planner drove the update by the due rows' index instead, and compared every due row with
    every claimed one: under a backlog of 3,000 e-mails a claim of 20 took 15 ms of the
    server's time (0.65 ms now). SQLite has no FOR UPDATE (nor needs it: its writes are
    serial, and a statement reading an older snapshot cannot write), and keeps the test."""
    at = o.next_attempt_at.type
    now, until = bindparam("now", type_=at), bindparam("until", type_=at)
    due = (select(o.id).where(*_is_due(now)).order_by(o.next_attempt_at).limit(bindparam("limit"))
           .with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED", dialect="postgresql"))
    claimed = ((o.id == any_(func.array(select(due.c.id).scalar_subquery())),) if postgres
               else (o.id.in_(select(due.c.id)), *_is_due(now)))
    unknown = o.last_error == DELIVERY_STARTED
    return (update(email_outbox).where(*claimed)
            .values(next_attempt_at=case((unknown, o.next_attempt_at), else_=until),
                    failed_at=case((unknown, now), else_=None),
                    last_error=case((unknown, OUTCOME_UNKNOWN), else_=DELIVERY_STARTED))
            .returning(*(o[f] for f in OutgoingEmail.__dataclass_fields__), o.created_at, o.failed_at))


@dataclass(frozen=True)
class OutgoingEmail:
    id: str
    event_id: str
    recipient: str
    to_address: str
    subject: str
    body: str
    attempts: int


@dataclass
class Outcomes:
    """What became of a claimed batch, recorded in one transaction (`EmailOutbox.record`)."""

    sent: list[OutgoingEmail] = field(default_factory=list)
    retries: list[tuple[OutgoingEmail, int, datetime, str]] = field(default_factory=list)
    given_up: list[tuple[OutgoingEmail, int, str]] = field(default_factory=list)

    def retry(self, email: OutgoingEmail, attempts: int, at: datetime, error: str) -> None:
        self.retries.append((email, attempts, at, error))

    def give_up(self, email: OutgoingEmail, attempts: int, error: str) -> None:
        self.given_up.append((email, attempts, error))


_CLAIM = {True: _claim_statement(postgres=True), False: _claim_statement(postgres=False)}


class EmailOutbox:
    def __init__(self, engine: Engine):
        self.engine = engine

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 20) -> list[OutgoingEmail]:
        """Due, unsent e-mails, each pushed `lease` into the future so no one else takes it, in
        one statement (a select and an update per row before). A row locked by another
        sender's claim is skipped (PostgreSQL), and a row is tested again on the version locked
        (PostgreSQL's row lock in READ COMMITTED, the engine's default; SQLite's serial writes),
        so two senders never take one row. Under REPEATABLE READ a row changed meanwhile would
        fail the claim with a serialization error instead: still never taken twice."""
        with self.engine.begin() as conn:
            claim = _CLAIM[conn.dialect.name == "postgresql"]
            rows = conn.execute(claim, {"now": now, "until": now + lease, "limit": limit}).mappings().all()
        claimed = []
        for row in sorted(rows, key=lambda r: (r["created_at"], r["id"])):
            if row["failed_at"] is not None:
                log.warning("email_outcome_unknown", recipient=row["recipient"],
                            event_id=row["event_id"], attempts=row["attempts"])
            else:
                claimed.append(OutgoingEmail(*(row[f] for f in OutgoingEmail.__dataclass_fields__)))
        return claimed

    def record(self, outcomes: Outcomes, now: datetime) -> None:
        """Every outcome of a batch in one transaction (one commit instead of one per e-mail);
        until it commits, the batch's rows keep their DELIVERY_STARTED mark."""
        with self.engine.begin() as conn:
            if outcomes.sent:
                conn.execute(_SENT, {"ids": [e.id for e in outcomes.sent], "now": now})
            if outcomes.retries:
                conn.execute(_RETRY, [{"row": e.id, "n": n, "at": at, "error": error[:1000]}
                                      for e, n, at, error in outcomes.retries])
            if outcomes.given_up:
                conn.execute(_GIVE_UP, [{"row": e.id, "n": n, "now": now, "error": error[:1000]}
                                        for e, n, error in outcomes.given_up])

    def emails(self, recipient: str | None = None) -> list[dict]:
        query = select(email_outbox).order_by(o.created_at, o.id)
        if recipient is not None:
            query = query.where(o.recipient == recipient)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]
