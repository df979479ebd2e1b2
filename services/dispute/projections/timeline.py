"""The timeline: one row per stored dispute event, with who, when and a human sentence.

A tracked projection (tracked.py): rows and position in one transaction, one table per
generation, so `disputectl projections rebuild timeline` can rebuild it from the events.
`timeline_entry` is also what audit replay uses to show a timeline from the events alone.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime
from threading import Lock
from typing import Any, Iterable, Iterator, Mapping
from uuid import UUID

from sqlalchemy import JSON, Column, Engine, Integer, MetaData, String, Table, Text, select

from services.common.database import UtcDateTime

from services.dispute.projections.tracked import TrackedProjection, live_version, physical_name
from services.dispute.projections.timeline_facts import Facts, event_facts, jsonable, stored_facts, utc
from services.dispute.projections.timeline_text import summarise
from services.dispute.projections.upserts import insert_missing

TIMELINE = "timeline_entries"
PLATFORM_ONLY, PARTIES = "PLATFORM_ONLY", "PARTIES"
PUBLIC_NAMES = {"Opened": "DisputeOpened", "Withdrawn": "DisputeWithdrawn", "Closed": "DisputeClosed"}


def timeline_table(table_name: str, meta: MetaData) -> Table:
    return Table(
        table_name, meta,
        Column("dispute_id", String(36), primary_key=True),
        Column("version", Integer, primary_key=True),
        Column("at", UtcDateTime(), nullable=False, index=True),
        Column("actor_role", String(16), nullable=False),
        Column("actor_id", String(128), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("summary", Text, nullable=False),
        Column("details", JSON, nullable=False),
        Column("visibility", String(16), nullable=False),
    )


_live_tables: dict[str, Table] = {}


def live_timeline_table(engine: Engine) -> Table:
    with engine.connect() as conn:
        name = physical_name(TIMELINE, live_version(conn, TIMELINE))
    if name not in _live_tables:
        _live_tables[name] = timeline_table(name, MetaData())
    return _live_tables[name]


def timeline_entry(event: Any, currency: str, dispute_id: str | None = None) -> dict:
    """The timeline row of one domain event; `currency` is the dispute's (from its opening);
    `dispute_id`: str(event.originator_id), when the caller has it already."""
    return entry_of(event_facts(event, dispute_id), currency)


def entry_of(facts: Facts, currency: str) -> dict:
    """The timeline row of one event's facts (timeline_facts.py)."""
    kind, fields = facts.kind, facts.fields
    actor = fields["actor"]
    secret = kind == "MessagePosted" and fields.get("visibility") == PLATFORM_ONLY
    return {
        "dispute_id": facts.dispute_id, "version": facts.version,
        "at": utc(fields.get("at") or facts.timestamp), "actor_role": str(actor["role"]),
        "actor_id": str(actor["id"]), "event_type": PUBLIC_NAMES.get(kind, kind),
        "summary": summarise(kind, fields, currency), "details": facts.details,
        "visibility": PLATFORM_ONLY if secret else PARTIES,
    }


def timeline_from_events(events: Iterable[Any]) -> list[dict]:
    """The timeline of one dispute from its domain events alone (audit replay)."""
    entries, currency = [], ""
    for event in events:
        currency = (getattr(event, "currency", None) or "") if event.originator_version == 1 else currency
        entries.append(timeline_entry(event, currency or ""))
    return entries


def entry_view(row: Mapping[Any, Any]) -> dict:
    """The API shape of a stored row (or of a `timeline_entry`)."""
    return {"at": jsonable(row["at"]), "actor": {"role": row["actor_role"], "id": row["actor_id"]},
            "event_type": row["event_type"], "summary": row["summary"],
            "details": row["details"] if isinstance(row["details"], dict) else json.loads(row["details"]),
            "version": row["version"], "visibility": row["visibility"]}


class TimelineProjection(TrackedProjection):
    name = TIMELINE
    rows_per_dispute = True
    KEPT_CURRENCIES = 20_000
    """Dispute currencies kept between batches (they never change after the opening), so a
    batch reads the opening row only of disputes it has not seen lately."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._currencies: OrderedDict[str, str] = OrderedDict()
        self._keeping = Lock()  # batches of several shards may be written in parallel threads

    def define_table(self, table_name: str, meta: MetaData) -> Table:
        return timeline_table(table_name, meta)

    def prepare(self, notifications, shard) -> list[Facts]:
        if not self.replaying:  # the follower's events are decoded once for every projection
            return [event_facts(shard.mapper.to_domain_event(n)) for n in notifications]
        mapper, facts = shard.mapper, []
        for n in notifications:  # a rebuild: from the stored JSON, the domain event where it must
            dispute_id = str(n.originator_id)
            found = stored_facts(mapper.plain_state(n), n.topic, dispute_id, n.originator_version)
            facts.append(found or event_facts(mapper.to_domain_event(n), dispute_id))
        return facts

    def write(self, conn, table: Table, facts: list[Facts]) -> None:
        currencies = self._currencies_of(conn, table, facts)
        insert_missing(conn, table, [entry_of(f, currencies[f.dispute_id]) for f in facts], fresh=self.fresh)
        self._keep(currencies)

    def _currencies_of(self, conn, table: Table, facts: list[Facts]) -> dict[str, str]:
        """Each dispute's currency: from its opening in this batch, kept, or its stored first row."""
        known: dict[str, str] = {}
        for f in facts:
            if f.version == 1:
                known[f.dispute_id] = f.fields.get("currency") or ""
            elif f.dispute_id not in known:
                with self._keeping:
                    kept = self._currencies.get(f.dispute_id)
                if kept is not None:
                    known[f.dispute_id] = kept
        ids = {f.dispute_id for f in facts}
        missing = ids - known.keys()
        for chunk in _chunks(sorted(missing), 500):
            for dispute_id, details in conn.execute(select(table.c.dispute_id, table.c.details).where(
                    table.c.dispute_id.in_(chunk), table.c.version == 1)):
                details = json.loads(details) if isinstance(details, str) else (details or {})
                known[dispute_id] = details.get("currency", "")
        return {dispute_id: known.get(dispute_id, "") for dispute_id in known.keys() | missing}

    def _keep(self, currencies: dict[str, str]) -> None:
        with self._keeping:
            for dispute_id, currency in currencies.items():
                if not currency:  # no opening row found: ask again next time
                    continue
                self._currencies.pop(dispute_id, None)
                self._currencies[dispute_id] = currency
            while len(self._currencies) > self.KEPT_CURRENCIES:
                self._currencies.popitem(last=False)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def read_timeline(engine: Engine, dispute_id: UUID, as_of: datetime | None,
                  include_platform_only: bool, *, after_version: int = 0,
                  limit: int | None = None) -> list[dict]:
    """Entries in version order, after `after_version`, at most `limit` of them."""
    table = live_timeline_table(engine)
    query = select(table).where(table.c.dispute_id == str(dispute_id),
                                table.c.version > after_version)
    if as_of is not None:
        query = query.where(table.c.at <= as_of)
    if not include_platform_only:
        query = query.where(table.c.visibility != PLATFORM_ONLY)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(table.c.version).limit(limit)).mappings().all()
    return [entry_view(row) for row in rows]
