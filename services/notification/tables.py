"""The notification service's own tables (SQLite locally, PostgreSQL in production).

Party ids and e-mail addresses are Text: ids come from upstream with no length limit, and a
value a column cannot hold would fail its event on every redelivery.

A recipient is a (role, id): `notifications` keeps both columns, `recipient_profiles` is keyed
by both, and `email_outbox.recipient` holds `role:id` (one e-mail per event and recipient).
The former `recipients` table, keyed by id alone, is no longer read: its rows cannot be told
apart by role (a buyer token could write the profile of a seller, or of the operators, with
the same id), so principals set their profile again (or it is seeded from configuration).
Outbox rows written before keep their bare id in `recipient`; they are sent as they are.
"""

from sqlalchemy import (Column, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

from services.common.database import UtcDateTime

metadata = MetaData()
notifications = Table(
    "notifications", metadata,
    Column("id", String(36), primary_key=True),
    Column("recipient", Text, nullable=False),
    Column("recipient_role", String(16), nullable=False),
    Column("event_id", String(36), nullable=False), Column("event_type", String(64), nullable=False),
    Column("dispute_id", String(36), nullable=False),
    Column("subject", Text, nullable=False), Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime()),
)
# An inbox is read newest first, a page at a time (store.inbox): a recipient's own entries in
# that order, and everyone's (an operator's view). With only an index on the recipient, the
# shared operators' inbox fetched and sorted all its entries for every page (17 ms at 66,000),
# and everyone's scanned the table.
inbox_newest = Index("ix_notifications_inbox_newest", notifications.c.recipient,
                     notifications.c.recipient_role, notifications.c.created_at, notifications.c.id)
everyone_newest = Index("ix_notifications_newest", notifications.c.created_at, notifications.c.id)
handled_events = Table("handled_events", metadata, Column("event_id", String(36), primary_key=True))
dispute_parties = Table(
    "dispute_parties", metadata, Column("dispute_id", String(36), primary_key=True),
    Column("buyer_id", Text, nullable=False), Column("seller_id", Text, nullable=False),
)
recipient_profiles = Table(
    "recipient_profiles", metadata,
    Column("recipient_role", String(16), primary_key=True),
    Column("recipient_id", Text, primary_key=True),
    Column("email", String(254)), Column("time_zone", String(64)),
)
email_outbox = Table(
    "email_outbox", metadata,
    Column("id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False), Column("recipient", Text, nullable=False),
    Column("to_address", Text, nullable=False),
    Column("subject", Text, nullable=False), Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()), Column("failed_at", UtcDateTime()),
    Column("last_error", Text),
    UniqueConstraint("event_id", "recipient", name="one_email_per_event_and_recipient"),
)

UNFINISHED = (email_outbox.c.sent_at.is_(None)) & (email_outbox.c.failed_at.is_(None))
emails_due = Index("email_outbox_unfinished_by_due", email_outbox.c.next_attempt_at,
                   postgresql_where=UNFINISHED, sqlite_where=UNFINISHED)
"""The sender's claim reads the unfinished e-mails, oldest due first: without this partial
index it walked every sent e-mail (they keep their old next_attempt_at) on every claim. It is
the only index on next_attempt_at: nothing reads the column otherwise, and a full index of it
beside this one cost every write of the outbox (the insert, the claim, the outcome) one more
index entry."""
DROPPED_INDEXES = {"email_outbox": ("ix_email_outbox_next_attempt_at",),
                   "notifications": ("ix_notifications_recipient",)}
"""Indexes of a database made before, dropped by table: the full index on next_attempt_at, and
the recipient's (ix_notifications_inbox_newest begins with it)."""

WIDENED = {"notifications": ("recipient",), "dispute_parties": ("buyer_id", "seller_id"),
           "email_outbox": ("recipient", "to_address")}
"""Columns that were VARCHAR(128/254) before: an existing PostgreSQL database is widened."""
