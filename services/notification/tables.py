"""The notification service's own tables (SQLite locally, PostgreSQL in production)."""

from sqlalchemy import (Column, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

from services.common.database import UtcDateTime

metadata = MetaData()
notifications = Table(
    "notifications", metadata,
    Column("id", String(36), primary_key=True),
    Column("recipient", String(128), nullable=False, index=True),
    Column("recipient_role", String(16), nullable=False),
    Column("event_id", String(36), nullable=False), Column("event_type", String(64), nullable=False),
    Column("dispute_id", String(36), nullable=False),
    Column("subject", Text, nullable=False), Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime()),
)
handled_events = Table("handled_events", metadata, Column("event_id", String(36), primary_key=True))
dispute_parties = Table(
    "dispute_parties", metadata, Column("dispute_id", String(36), primary_key=True),
    Column("buyer_id", String(128), nullable=False), Column("seller_id", String(128), nullable=False),
)
recipients = Table(
    "recipients", metadata, Column("recipient_id", String(128), primary_key=True),
    Column("email", String(254)), Column("time_zone", String(64)),
)
email_outbox = Table(
    "email_outbox", metadata,
    Column("id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False), Column("recipient", String(128), nullable=False),
    Column("to_address", String(254), nullable=False),
    Column("subject", Text, nullable=False), Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False, index=True),
    Column("sent_at", UtcDateTime()), Column("failed_at", UtcDateTime()),
    Column("last_error", Text),
    UniqueConstraint("event_id", "recipient", name="one_email_per_event_and_recipient"),
)
