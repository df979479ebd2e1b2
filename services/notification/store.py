"""The notification service's own store: inbox entries, and the events already handled.

The event id is recorded in the same transaction as the inbox entries it produced, so a
redelivered event finds its id and changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

from sqlalchemy import (Column, DateTime, Engine, MetaData, String, Table, Text, insert, select,
                        update)
from sqlalchemy.exc import IntegrityError

from services.notification.messages import Notice, Parties

metadata = MetaData()
notifications = Table(
    "notifications", metadata,
    Column("id", String(36), primary_key=True),
    Column("recipient", String(128), nullable=False, index=True),
    Column("recipient_role", String(16), nullable=False),
    Column("event_id", String(36), nullable=False), Column("event_type", String(64), nullable=False),
    Column("dispute_id", String(36), nullable=False),
    Column("subject", Text, nullable=False), Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True)),
)
handled_events = Table("handled_events", metadata, Column("event_id", String(36), primary_key=True))
dispute_parties = Table(
    "dispute_parties", metadata, Column("dispute_id", String(36), primary_key=True),
    Column("buyer_id", String(128), nullable=False), Column("seller_id", String(128), nullable=False),
)


class NotificationStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def parties(self, dispute_id: str) -> Parties | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(dispute_parties).where(
                dispute_parties.c.dispute_id == dispute_id)).mappings().first()
        return Parties(row["buyer_id"], row["seller_id"]) if row else None

    def record(self, *, event_id: str, event_type: str, dispute_id: str, notices: list[Notice],
               parties: Parties | None) -> bool:
        """Store the effect of one event; False if this event was handled before."""
        now = datetime.now(timezone.utc)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(handled_events).values(event_id=event_id))
                known = conn.execute(select(dispute_parties.c.dispute_id).where(
                    dispute_parties.c.dispute_id == dispute_id)).first()
                if parties and not known:
                    conn.execute(insert(dispute_parties).values(
                        dispute_id=dispute_id, buyer_id=parties.buyer_id, seller_id=parties.seller_id))
                for notice in notices:
                    conn.execute(insert(notifications).values(
                        id=str(uuid4()), recipient=notice.recipient,
                        recipient_role=notice.recipient_role, event_id=event_id,
                        event_type=event_type, dispute_id=dispute_id, subject=notice.subject,
                        body=notice.body, created_at=now))
            return True
        except IntegrityError:
            return False

    def inbox(self, recipient: str | None, limit: int = 100) -> list[dict]:
        query = select(notifications).order_by(notifications.c.created_at).limit(limit)
        if recipient is not None:
            query = query.where(notifications.c.recipient == recipient)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def mark_read(self, notification_id: str, recipient: str | None) -> bool:
        query = update(notifications).where(notifications.c.id == notification_id)
        if recipient is not None:
            query = query.where(notifications.c.recipient == recipient)
        with self.engine.begin() as conn:
            return conn.execute(query.values(read_at=datetime.now(timezone.utc))).rowcount == 1
