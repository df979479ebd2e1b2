"""The dispute index: one row per dispute, for lists, the operators' queue and the deadline
worker. A tracked consumer of the event store: rows and position change in one transaction
(tracked.py), in the live generation's table, so it can be rebuilt without downtime.

For every batch of stored events it loads each dispute touched at the newest version in the
batch, so the row is exactly the aggregate's own view (status, whose move, deadlines) without
copying the domain's rules; a rebuild from the start of history ends with the same rows.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from uuid import UUID

from sqlalchemy import (Column, Engine, Integer, MetaData, String, Table, Text, insert,
                        select, update)

from services.common.database import UtcDateTime

from services.dispute.projections.tracked import (PositionMoved, TrackedProjection,  # noqa: F401
                                               live_version, physical_name)

INDEX = "dispute_index"


def index_table(table_name: str, meta: MetaData) -> Table:
    return Table(
        table_name, meta,
        Column("dispute_id", String(36), primary_key=True),
        Column("order_id", String(128), nullable=False, index=True),
        Column("item_id", String(128), nullable=False),
        Column("buyer_id", String(128), nullable=False, index=True),
        Column("seller_id", String(128), nullable=False, index=True),
        Column("reason", String(32), nullable=False), Column("request", String(32), nullable=False),
        Column("status", String(32), nullable=False, index=True),
        Column("awaiting", String(16), nullable=False, index=True),
        Column("next_deadline", UtcDateTime(), index=True),
        Column("deadlines", Text, nullable=False),
        Column("paid_amount", String(32), nullable=False),
        Column("refundable_amount", String(32), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("version", Integer, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False, index=True),
        Column("updated_at", UtcDateTime(), nullable=False),
    )


_live_tables: dict[str, Table] = {}


def live_index_table(engine: Engine) -> Table:
    """The dispute index table readers should query now (resolved per call: rebuilds switch it)."""
    with engine.connect() as conn:
        name = physical_name(INDEX, live_version(conn, INDEX))
    if name not in _live_tables:
        _live_tables[name] = index_table(name, MetaData())
    return _live_tables[name]


def index_row(dispute) -> dict:
    return {
        "dispute_id": str(dispute.id), "order_id": dispute.order_id, "item_id": dispute.item_id,
        "buyer_id": dispute.buyer_id, "seller_id": dispute.seller_id, "reason": dispute.reason,
        "request": dispute.request, "status": dispute.status, "awaiting": dispute.awaiting,
        "next_deadline": dispute.next_deadline,
        "deadlines": json.dumps({k: v.isoformat() for k, v in dispute.deadlines.items()}),
        "paid_amount": str(dispute.paid_amount), "refundable_amount": str(dispute.refundable_amount),
        "currency": dispute.currency, "version": dispute.version,
        "created_at": dispute.opened_at, "updated_at": dispute.updated_at,
    }


class DisputeIndexProjection(TrackedProjection):
    name = INDEX

    def define_table(self, table_name: str, meta: MetaData) -> Table:
        return index_table(table_name, meta)

    def prepare(self, notifications, shard) -> list[dict]:
        newest: dict[UUID, int] = {}
        for n in notifications:
            newest[n.originator_id] = max(newest.get(n.originator_id, 0), n.originator_version)
        return [index_row(shard.repository.get(d, version=v)) for d, v in newest.items()]

    def write(self, conn, table: Table, rows: list[dict]) -> None:
        # One lock order for every runner: two runners (two API processes) on overlapping
        # batches would otherwise lock the same rows in different orders and deadlock.
        for row in sorted(rows, key=lambda row: row["dispute_id"]):
            _upsert(conn, table, row)


def _upsert(conn, table: Table, row: dict) -> None:
    current = conn.execute(select(table.c.version)
                           .where(table.c.dispute_id == row["dispute_id"])).scalar()
    if current is None:
        conn.execute(insert(table).values(**row))
    elif current <= row["version"]:
        conn.execute(update(table).where(table.c.dispute_id == row["dispute_id"]).values(**row))


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
