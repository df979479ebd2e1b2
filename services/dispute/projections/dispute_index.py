"""The dispute index: one row per dispute, for lists, the operators' queue and the deadline
worker. A tracked consumer of the event store: rows and position change in one transaction
(tracked.py), in the live generation's table, so it can be rebuilt without downtime.

For every batch of stored events it brings each dispute touched to the newest version in the
batch, so the row is exactly the aggregate's own view (status, whose move, deadlines) without
copying the domain's rules; a rebuild from the start of history ends with the same rows.

A dispute is advanced by the batch's own events (decoded once) from the aggregate kept from an
earlier batch, or from its first event; only when neither is there (evicted, or the batch does
not continue the kept version) is it loaded from the store. The kept aggregates are bounded
(KEPT_DISPUTES, least recently touched dropped first), so memory stays flat whatever the
history's length. Rows are written in one upsert statement per batch.

In a rebuild's generation before its switch (`fresh`) a kept dispute's row is held back
instead: it is written when the dispute is dropped from the kept ones, or when the generation
is finished (`held_back`: before its indexes and its switch, or at the end of a part). A
dispute's events are spread over several batches of a live history, and its row was written
again for each of them; nobody reads the generation before the switch, and a rebuild that
fails is started again from nothing, so holding rows back loses none.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime, timezone
from threading import Lock
from typing import Any, Iterator, Sequence
from uuid import UUID

from sqlalchemy import Column, Engine, Index, Integer, MetaData, String, Table, Text, func, literal

from services.common.database import UtcDateTime
from services.dispute.projections.upserts import upsert_newer

from services.dispute.projections.tracked import (PositionMoved, TrackedProjection,  # noqa: F401
                                               live_version, physical_name)

INDEX = "dispute_index"


NEVER = datetime(9999, 1, 1, tzinfo=timezone.utc)  # the deadline order of a dispute without one


def deadline_order(table: Table):
    """What the disputes are listed by when sorted by their next deadline (those without one
    last): the expression of the table's `deadline_order` index. The constant is written into
    the statement, not bound: PostgreSQL matches an index on an expression only to the same
    expression, and a generic plan's parameter would not be one."""
    return func.coalesce(table.c.next_deadline, literal(NEVER, UtcDateTime(), literal_execute=True))


def index_table(table_name: str, meta: MetaData) -> Table:
    table = _columns(table_name, meta)
    # the operators' queue by next deadline, its pages entered at their cursor; without it
    # every page sorted the whole table (55 ms at 100,000 disputes)
    Index(f"ix_{table_name}_deadline_order", deadline_order(table), table.c.dispute_id)
    return table


def _columns(table_name: str, meta: MetaData) -> Table:
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
    rows_per_dispute = True
    KEPT_DISPUTES = 4000
    """Aggregates kept between batches (~4.4 KB each, so at most ~18 MB): the disputes active at
    once in a window of history; one beyond them is loaded from the store again, never wrong."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._kept: OrderedDict[UUID, Any] = OrderedDict()
        self._unwritten: set[UUID] = set()  # kept disputes whose row is held back (fresh only)
        self._keeping = Lock()  # batches of several shards may be prepared in parallel threads

    def define_table(self, table_name: str, meta: MetaData) -> Table:
        return index_table(table_name, meta)

    def prepare(self, notifications, shard) -> list[dict]:
        streams: dict[UUID, list] = {}
        for n in notifications:
            streams.setdefault(n.originator_id, []).append(n)
        dropped: list[dict] = []
        advanced = [self._advanced(dispute_id, stored, shard, dropped)
                    for dispute_id, stored in streams.items()]
        return dropped if self.fresh else [index_row(dispute) for dispute in advanced]

    HELD_BACK_CHUNK = 500
    """Held-back rows written at a time at the end: all of them at once (up to KEPT_DISPUTES)
    raised a rebuild's peak RSS by ~5 MB."""

    def held_back(self) -> Iterator[list[dict]]:
        with self._keeping:
            held, self._unwritten = list(self._unwritten), set()
        for start in range(0, len(held), self.HELD_BACK_CHUNK):
            yield [index_row(self._kept[dispute_id]) for dispute_id in held[start:start + self.HELD_BACK_CHUNK]]

    def write(self, conn, table: Table, rows: list[dict]) -> None:
        # One lock order for every runner: two runners (two API processes) on overlapping
        # batches would otherwise lock the same rows in different orders and deadlock.
        upsert_newer(conn, table, sorted(rows, key=lambda row: row["dispute_id"]), key="dispute_id")

    def _advanced(self, dispute_id: UUID, stored: Sequence[Any], shard: Any, dropped: list[dict]) -> Any:
        """The dispute at the newest version among `stored` (its events in this batch, in order,
        from `shard`'s log). In a fresh generation its row is held back, and the rows held back
        of the disputes it pushes out of the kept ones go onto `dropped` (rows, not the
        aggregates: a batch may push out thousands, ~4.4 KB each)."""
        with self._keeping:
            kept = self._kept.pop(dispute_id, None)
        first, newest = stored[0].originator_version, stored[-1].originator_version
        from_version = 0 if kept is None else kept.version
        # a dispute's versions rise along the log, so first and last tell whether the batch
        # continues the kept version without a gap (and each `mutate` checks its own version:
        # a gap could only raise, never give a wrong row)
        contiguous = first == from_version + 1 and newest == from_version + len(stored)
        if contiguous and (kept is not None or first == 1):
            dispute = kept
            for event in map(shard.mapper.to_domain_event, stored):
                dispute = event.mutate(dispute)  # what Repository.get does, less its per-event
                # isinstance check against a runtime Protocol (a third of the time)
        else:
            dispute = shard.repository.get(dispute_id, version=newest)
        with self._keeping:
            self._kept[dispute_id] = dispute
            if self.fresh:
                self._unwritten.add(dispute_id)
            while len(self._kept) > self.KEPT_DISPUTES:
                gone_id, gone = self._kept.popitem(last=False)
                if gone_id in self._unwritten:
                    self._unwritten.discard(gone_id)
                    dropped.append(index_row(gone))
        return dispute


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
