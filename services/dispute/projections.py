"""The dispute index: one row per dispute, for lists, the operators' queue and the deadline
worker. A tracked consumer of the event store: rows and position change in one transaction.

For every batch of stored events it loads each dispute touched at the newest version in the
batch, so the row is exactly the aggregate's own view (status, whose move, deadlines) without
copying the domain's rules; a rebuild from the start of history ends with the same rows.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from uuid import UUID

import structlog
from sqlalchemy import (Column, DateTime, Engine, Integer, MetaData, String, Table, Text, insert,
                        select, update)

from services.dispute.application import DisputeApplication

log = structlog.get_logger("projection")
metadata = MetaData()
dispute_index = Table(
    "dispute_index", metadata,
    Column("dispute_id", String(36), primary_key=True),
    Column("order_id", String(128), nullable=False, index=True),
    Column("item_id", String(128), nullable=False),
    Column("buyer_id", String(128), nullable=False, index=True),
    Column("seller_id", String(128), nullable=False, index=True),
    Column("reason", String(32), nullable=False), Column("request", String(32), nullable=False),
    Column("status", String(32), nullable=False, index=True),
    Column("awaiting", String(16), nullable=False, index=True),
    Column("next_deadline", DateTime(timezone=True), index=True),
    Column("deadlines", Text, nullable=False),
    Column("paid_amount", String(32), nullable=False),
    Column("refundable_amount", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
projection_positions = Table(
    "projection_positions", metadata,
    Column("name", String(64), primary_key=True), Column("position", Integer, nullable=False),
)
INDEX = "dispute_index"


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


class DisputeIndexProjection:
    def __init__(self, app: DisputeApplication, engine: Engine, batch_size: int = 500):
        self.app, self.engine, self.batch_size = app, engine, batch_size

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def position(self) -> int:
        with self.engine.connect() as conn:
            return _position(conn, INDEX)

    def catch_up_once(self) -> int:
        """Project the next batch of stored events; returns how many were read."""
        start = self.position()
        notifications = self.app.recorder.select_notifications(
            start, self.batch_size, inclusive_of_start=False)
        if not notifications:
            return 0
        newest: dict[UUID, int] = {}
        for n in notifications:
            newest[n.originator_id] = max(newest.get(n.originator_id, 0), n.originator_version)
        rows = [index_row(self.app.repository.get(d, version=v)) for d, v in newest.items()]
        with self.engine.begin() as conn:
            for row in rows:
                _upsert(conn, row)
            _set_position(conn, INDEX, notifications[-1].id, expected=start)
        return len(notifications)

    async def run(self, stopping: asyncio.Event, poll_interval: float = 0.2) -> None:
        while not stopping.is_set():
            try:
                done = await asyncio.to_thread(self.catch_up_once)
            except PositionMoved:
                continue
            except Exception as error:  # keep following; the next round retries the batch
                log.error("projection_failed", projection=INDEX, error=repr(error))
                done = 0
            if not done:
                try:
                    await asyncio.wait_for(stopping.wait(), poll_interval)
                except TimeoutError:
                    pass


class PositionMoved(Exception):
    """Another runner projected the same batch first; its rows are already there."""


def _position(conn, name: str) -> int:
    value = conn.execute(select(projection_positions.c.position)
                         .where(projection_positions.c.name == name)).scalar()
    return value or 0


def _set_position(conn, name: str, position: int, expected: int) -> None:
    moved = conn.execute(update(projection_positions)
                         .where(projection_positions.c.name == name,
                                projection_positions.c.position == expected)
                         .values(position=position)).rowcount
    if moved:
        return
    if expected == 0 and _position(conn, name) == 0:
        conn.execute(insert(projection_positions).values(name=name, position=position))
        return
    raise PositionMoved(name)


def _upsert(conn, row: dict) -> None:
    current = conn.execute(select(dispute_index.c.version)
                           .where(dispute_index.c.dispute_id == row["dispute_id"])).scalar()
    if current is None:
        conn.execute(insert(dispute_index).values(**row))
    elif current <= row["version"]:
        conn.execute(update(dispute_index)
                     .where(dispute_index.c.dispute_id == row["dispute_id"]).values(**row))


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
