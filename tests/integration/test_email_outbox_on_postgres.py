"""The e-mail outbox's claim on a real PostgreSQL: what it takes under a backlog, and what it
leaves to other senders."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest
from sqlalchemy import event, insert, text

from services.common.database import sqlalchemy_engine
from services.notification.email_outbox import EmailOutbox, Outcomes
from services.notification.store import NotificationStore
from services.notification.tables import email_outbox
from tests.support.orders import NOW

pytestmark = pytest.mark.integration

LEASE = timedelta(minutes=3)


@pytest.fixture
def outbox(pg_url) -> EmailOutbox:
    engine = sqlalchemy_engine(pg_url)
    NotificationStore(engine).create_tables()
    return EmailOutbox(engine)


def queue(outbox: EmailOutbox, count: int) -> list[str]:
    """`count` e-mails due now, oldest first; their ids in that order."""
    ids = [str(uuid4()) for _ in range(count)]
    rows = [dict(id=row_id, event_id=str(uuid4()), recipient="buyer:B-1", to_address="b@example.org",
                 subject="Dispute resolved", body="The dispute is resolved.\n" * 20,
                 created_at=NOW + timedelta(microseconds=n), attempts=0,
                 next_attempt_at=NOW + timedelta(microseconds=n)) for n, row_id in enumerate(ids)]
    with outbox.engine.begin() as conn:
        conn.execute(insert(email_outbox), rows)
    return ids


def claim_and_its_plan(outbox: EmailOutbox, limit: int) -> tuple[list, str]:
    """What `claim_due` claims, and PostgreSQL's plan, as run, of the statement it sent (run
    again on the rows left, and rolled back)."""
    sent = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))
    event.listen(outbox.engine, "before_cursor_execute", note)
    try:
        claimed = outbox.claim_due(NOW + timedelta(hours=1), LEASE, limit)
    finally:
        event.remove(outbox.engine, "before_cursor_execute", note)
    [(statement, parameters)] = [(s, p) for s, p in sent if "email_outbox" in s]
    with outbox.engine.connect() as conn:
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters))
        conn.rollback()
    return claimed, plan


@pytest.mark.parametrize("analyzed", [False, True])
def test_a_backlog_is_claimed_by_key(outbox, analyzed):
    """Before, the update was driven by the due rows' index and compared each due row with
    each claimed one: 15 ms of the server's time for 20 of 3,000 due e-mails. That plan came
    without the table's statistics (a new outbox, or a busy one between autovacuum's runs);
    with them the planner found the key by itself, and must still."""
    ids = queue(outbox, 3_000)
    if analyzed:
        with outbox.engine.begin() as conn:
            conn.execute(text("ANALYZE email_outbox"))
    claimed, plan = claim_and_its_plan(outbox, limit=20)
    assert [e.id for e in claimed] == ids[:20]  # the oldest due first
    assert "email_outbox_pkey" in plan, plan
    assert "Join Filter" not in plan and "Rows Removed by Filter" not in plan, plan


def test_rows_another_sender_holds_are_skipped_and_a_row_it_sent_is_never_claimed(outbox, pg_url):
    ids = queue(outbox, 5)
    with psycopg.connect(pg_url) as other:  # another sender, mid-transaction
        other.execute("SELECT id FROM email_outbox WHERE id = %s FOR UPDATE", (ids[0],))
        other.execute("UPDATE email_outbox SET sent_at = %s WHERE id = %s", (NOW, ids[1]))
        claimed = outbox.claim_due(NOW + timedelta(hours=1), LEASE, limit=10)
        assert [e.id for e in claimed] == ids[2:]
        other.commit()
    again = outbox.claim_due(NOW + timedelta(hours=1), LEASE, limit=10)
    assert [e.id for e in again] == ids[:1]  # released unclaimed; the sent one is not due
    rows = {row["id"]: row for row in outbox.emails()}
    assert rows[ids[1]]["sent_at"] is not None and rows[ids[1]]["last_error"] is None
    assert all(rows[i]["last_error"] is not None for i in ids[:1] + ids[2:])  # DELIVERY_STARTED


def test_a_claimed_row_is_due_again_only_when_its_lease_ends_and_then_given_up(outbox):
    ids = queue(outbox, 3)
    first = outbox.claim_due(NOW + timedelta(hours=1), LEASE, limit=10)
    outbox.record(Outcomes(sent=first[:1]), NOW + timedelta(hours=1))
    assert outbox.claim_due(NOW + timedelta(hours=1), LEASE, limit=10) == []  # leased
    after_lease = NOW + timedelta(hours=1) + LEASE
    assert outbox.claim_due(after_lease, LEASE, limit=10) == []  # outcome unknown: given up
    rows = {row["id"]: row for row in outbox.emails()}
    assert rows[ids[0]]["sent_at"] is not None
    assert all(rows[i]["failed_at"] == after_lease for i in ids[1:])
