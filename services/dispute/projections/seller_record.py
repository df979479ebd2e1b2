"""Every seller's public dispute record (DOMAIN.md, "Feedback and the seller's record").

A tracked projection (tracked.py: rows and position in one transaction, one table per
generation, rebuildable): one row per dispute with the dated facts the record is made of
(opened, first escalated, each outcome with its time, how the first resolution came about,
the buyer's rating of the seller). The record itself is computed when it is read, for a
window ending at any moment (`as_of`), so the record of a past day is the record as it stood
that day. It names no buyer and holds no comment: only the rating is kept.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Text, select

from services.common.database import UtcDateTime
from services.dispute.projections.tracked import TrackedProjection, live_version, physical_name
from services.dispute.projections.timeline import utc
from services.dispute.projections.upserts import upsert_newer

RECORD = "seller_record_facts"
WITHDRAWN = "WITHDRAWN"
SHARES = ("BUYER_FAVOUR", "SELLER_FAVOUR", "PARTIAL", "AGREED", WITHDRAWN)
"""Outcome shares, as the domain names outcomes (PARTIAL: a platform decision refunding part)."""

# The stored events the record is made of (topic suffixes); every other event is skipped
# before it is decoded.
FACT_EVENTS = ("Opened", "Escalated", "Resolved", "Withdrawn", "Appealed", "AppealDecided",
               "FeedbackLeft")


def facts_table(table_name: str, meta: MetaData) -> Table:
    return Table(
        table_name, meta,
        Column("dispute_id", String(36), primary_key=True),
        Column("seller_id", String(128), nullable=False, index=True),
        Column("opened_at", UtcDateTime(), nullable=False, index=True),
        Column("escalated_at", UtcDateTime()),
        Column("ended_at", UtcDateTime()),
        Column("resolved_by", String(32)),
        Column("outcomes", Text, nullable=False, default="[]"),  # [[iso time, outcome], ...]
        Column("appellant", String(16)),
        Column("buyer_rating", Integer),
        Column("buyer_rated_at", UtcDateTime()),
        Column("version", Integer, nullable=False),
    )


_live_tables: dict[str, Table] = {}


def live_facts_table(engine: Engine) -> Table:
    with engine.connect() as conn:
        name = physical_name(RECORD, live_version(conn, RECORD))
    if name not in _live_tables:
        _live_tables[name] = facts_table(name, MetaData())
    return _live_tables[name]


def _event_name(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


class SellerRecordProjection(TrackedProjection):
    name = RECORD
    rows_per_dispute = True

    def define_table(self, table_name: str, meta: MetaData) -> Table:
        return facts_table(table_name, meta)

    def prepare(self, notifications, shard) -> list[Any]:
        return [shard.mapper.to_domain_event(n) for n in notifications
                if _event_name(n.topic) in FACT_EVENTS]

    def write(self, conn, table: Table, events: list[Any]) -> None:
        """The batch's disputes read in one statement and written in one (upserts.py): a read
        and a write per dispute, each statement built by SQLAlchemy anew, were a fifth of the
        dispute API's CPU while sellers accepted claims at 100/s (py-spy)."""
        ids = sorted({str(event.originator_id) for event in events})
        rows: dict[str, dict | None] = dict.fromkeys(ids)
        if ids:
            found = conn.execute(select(table).where(table.c.dispute_id.in_(ids))).mappings()
            rows.update((row["dispute_id"], dict(row)) for row in found)
        changed: set[str] = set()
        for event in events:
            dispute_id = str(event.originator_id)
            row = rows[dispute_id]
            if row is not None and row["version"] >= event.originator_version:
                continue  # projected before (a batch replayed after a crash)
            rows[dispute_id] = apply_fact(row, event)
            changed.add(dispute_id)
        # the upsert locks its rows in key order (upserts.py): two runners never deadlock
        upsert_newer(conn, table, [row for dispute_id, row in rows.items()
                                   if dispute_id in changed and row is not None], key="dispute_id")


def apply_fact(row: dict | None, event: Any) -> dict | None:
    """The dispute's row after one of its events (None until its opening is seen)."""
    kind, at = type(event).__name__, utc(event.at)
    if kind == "Opened":
        return {"dispute_id": str(event.originator_id), "seller_id": event.seller_id,
                "opened_at": at, "escalated_at": None, "ended_at": None, "resolved_by": None,
                "outcomes": "[]", "appellant": None, "buyer_rating": None,
                "buyer_rated_at": None, "version": event.originator_version}
    if row is None:
        return None
    row = {**row, "version": event.originator_version}
    if kind == "Escalated" and row["escalated_at"] is None:
        row["escalated_at"] = at
    elif kind == "Resolved":
        row = _outcome(row, at, str(event.outcome))
        row["resolved_by"] = row["resolved_by"] or str(event.resolved_by)
    elif kind == "Withdrawn":
        row = _outcome(row, at, WITHDRAWN)
    elif kind == "Appealed":
        row["appellant"] = str(event.actor["role"])
    elif kind == "AppealDecided" and str(event.outcome) == "OVERTURNED":
        won = "BUYER_FAVOUR" if row["appellant"] == "buyer" else "SELLER_FAVOUR"
        row = _outcome(row, at, won)
    elif kind == "FeedbackLeft" and str(event.actor["role"]) == "buyer":
        row["buyer_rating"], row["buyer_rated_at"] = event.rating, at
    return row


def _outcome(row: dict, at: datetime, outcome: str) -> dict:
    outcomes = json.loads(row["outcomes"]) + [[at.isoformat(), outcome]]
    return {**row, "outcomes": json.dumps(outcomes), "ended_at": row["ended_at"] or at}


def read_facts(engine: Engine, seller_id: str, since: datetime, until: datetime) -> list[dict]:
    """The facts of the seller's disputes opened in (since, until]."""
    table = live_facts_table(engine)
    query = select(table).where(table.c.seller_id == seller_id, table.c.opened_at > since,
                                table.c.opened_at <= until)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


# The record, from the facts ---------------------------------------------------------------

@dataclass(frozen=True)
class SellerRecord:
    seller_id: str
    window: timedelta
    as_of: datetime
    orders_seen: int
    disputes_opened: int
    dispute_rate: float | None
    disputes_ended: int
    outcome_shares: dict[str, float]
    resolved_by_seller_timeout_share: float | None
    median_time_to_resolution: timedelta | None
    p90_time_to_resolution: timedelta | None
    escalation_rate: float | None
    average_feedback: float | None
    feedback_count: int


def seller_record(seller_id: str, facts: Iterable[dict], orders_seen: int, as_of: datetime,
                  window: timedelta) -> SellerRecord:
    """The record of the disputes opened in the window ending at `as_of`, each as it stood then.

    Rates are shares of the disputes opened in the window (the dispute rate: of the orders
    placed in it); outcome shares and the share resolved by the seller's timeout are of those
    ended by `as_of`, each counted with the outcome it had then (an overturned appeal changes
    it from its day on); times to resolution run from opening to the first outcome; p90 is the
    nearest-rank percentile. Feedback is the buyers' ratings left by `as_of`.
    """
    opened = [f for f in facts if utc(f["opened_at"]) <= as_of]
    ended = [(f, outcome) for f in opened if (outcome := outcome_as_of(f, as_of)) is not None]
    durations = sorted(utc(f["ended_at"]) - utc(f["opened_at"]) for f, _ in ended)
    ratings = [f["buyer_rating"] for f in opened
               if f["buyer_rating"] is not None and utc(f["buyer_rated_at"]) <= as_of]
    escalated = [f for f in opened if f["escalated_at"] is not None and utc(f["escalated_at"]) <= as_of]
    timeouts = [f for f, _ in ended if f["resolved_by"] == "TIMEOUT_SELLER"]
    return SellerRecord(
        seller_id=seller_id, window=window, as_of=as_of, orders_seen=orders_seen,
        disputes_opened=len(opened), dispute_rate=_share(len(opened), orders_seen),
        disputes_ended=len(ended),
        outcome_shares={name: _share(sum(1 for _, o in ended if o == name), len(ended)) or 0.0
                        for name in SHARES} if ended else {},
        resolved_by_seller_timeout_share=_share(len(timeouts), len(ended)),
        median_time_to_resolution=_median(durations), p90_time_to_resolution=_nearest_rank(durations, 0.9),
        escalation_rate=_share(len(escalated), len(opened)),
        average_feedback=round(statistics.fmean(ratings), 2) if ratings else None,
        feedback_count=len(ratings))


def outcome_as_of(facts: dict, as_of: datetime) -> str | None:
    """The dispute's outcome at `as_of`: the last one recorded by then (None: not ended)."""
    known = [outcome for at, outcome in json.loads(facts["outcomes"])
             if utc(datetime.fromisoformat(at)) <= as_of]
    return known[-1] if known else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _nearest_rank(values: Sequence[timedelta], fraction: float) -> timedelta | None:
    return values[max(math.ceil(fraction * len(values)) - 1, 0)] if values else None
