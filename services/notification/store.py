"""The notification service's own store: inbox entries, e-mails to send, recipients, and the
events already handled.

The event id is recorded in the same transaction as the inbox entries and the outbox e-mails
it produced, so a redelivered event finds its id and changes nothing, and a crash loses nothing.
The consumer records a whole Kafka batch in one transaction (`record_all`: one commit and flush
for up to hundreds of events, where one per event bounded the service at ~40 events/s).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from uuid import uuid4

from sqlalchemy import (ARRAY, BindParameter, Connection, Engine, Select, Text, and_, bindparam, func, insert,
                        inspect, literal, select, text, tuple_, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.selectable import TableValuedAlias

from services.common.database import create_missing_indexes
from services.common.row_batches import insert_rows
from services.notification.notices import Notice, Parties, Recipient
from services.notification.tables import (DROPPED_INDEXES, WIDENED, dispute_parties, email_outbox,
                                          handled_events, metadata, notifications,
                                          recipient_profiles)


# The consumer's statements, built once with bound parameters: building one per call cost
# SQLAlchemy an expression and a cache key each. On SQLite an expanding IN takes any number of
# values. On PostgreSQL the values go as arrays, unnested and joined (the profiles' keys as two
# arrays side by side): the statement's text is then the same whatever the number of values, so
# SQLAlchemy renders nothing per call (an expanding IN is rendered again for every count) and
# psycopg prepares it once per connection. A join, not `= ANY(:ids)`: the server's generic plan
# of a prepared `= ANY($1)` searches the array from its start for every row it reads (it hashes
# only an array known when planning), which tripled PostgreSQL's CPU on batches of 200.


@dataclass(frozen=True)
class _Reads:
    handled_among: Select
    parties_of: Select
    known_parties: Select
    profiles_of: Select
    keys_as_arrays: bool
    """Profiles' keys bound as `roles` and `ids` (two arrays), else as `keys` (pairs)."""


def _expanding(name: str) -> BindParameter:
    return bindparam(name, expanding=True)


_SQLITE_READS = _Reads(
    handled_among=select(handled_events.c.event_id).where(handled_events.c.event_id.in_(_expanding("ids"))),
    parties_of=select(dispute_parties).where(dispute_parties.c.dispute_id.in_(_expanding("ids"))),
    known_parties=select(dispute_parties.c.dispute_id).where(dispute_parties.c.dispute_id.in_(_expanding("ids"))),
    profiles_of=select(recipient_profiles).where(tuple_(
        recipient_profiles.c.recipient_role, recipient_profiles.c.recipient_id).in_(_expanding("keys"))),
    keys_as_arrays=False)


def _wanted(*columns: str) -> TableValuedAlias:
    """The bound arrays of these names, unnested side by side as the rows of `wanted`."""
    return func.unnest(*(bindparam(c, type_=ARRAY(Text)) for c in columns)).table_valued(
        *columns).render_derived(name="wanted")


_ids, _keys = _wanted("ids"), _wanted("roles", "ids")
_POSTGRESQL_READS = _Reads(
    handled_among=select(handled_events.c.event_id).join(_ids, handled_events.c.event_id == _ids.c.ids),
    parties_of=select(dispute_parties).join(_ids, dispute_parties.c.dispute_id == _ids.c.ids),
    known_parties=select(dispute_parties.c.dispute_id).join(_ids, dispute_parties.c.dispute_id == _ids.c.ids),
    profiles_of=select(recipient_profiles).join(_keys, and_(
        recipient_profiles.c.recipient_role == _keys.c.roles, recipient_profiles.c.recipient_id == _keys.c.ids)),
    keys_as_arrays=True)
PROFILES_PER_QUERY = 500
"""Recipients looked up in one query (two bound values each: far below SQLite's 32,766)."""


@dataclass(frozen=True)
class Profile:
    email: str | None
    time_zone: str | None


@dataclass(frozen=True)
class Effect:
    """What one event leaves in this store: its id, its inbox entries and e-mails, and the
    parties a DisputeOpened teaches."""

    event_id: str
    event_type: str
    dispute_id: str
    notices: list[Notice]
    parties: Parties | None = None
    addresses: Mapping[Recipient, str] = field(default_factory=dict)


class Batch:
    """The one connection of a consumer batch (`NotificationStore.batch`)."""

    def __init__(self, conn: Connection):
        self.conn, self.committed = conn, False

    def commit(self) -> None:
        self.conn.commit()
        self.committed = True


class NotificationStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._reads = _POSTGRESQL_READS if engine.dialect.name == "postgresql" else _SQLITE_READS
        self._batch: ContextVar[Batch | None] = ContextVar(f"notification-batch-{id(self)}", default=None)

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """One connection and one transaction for a consumer batch's reads and its write: the
        store's reads and `record_all` inside it use it (a connection taken from the pool, tried
        and given back per call was most of a small batch's CPU); `Batch.commit` commits the
        write, and leaving without it rolls everything back. Per thread of execution (a context
        variable): the inbox API's calls meanwhile, and another store, take their own."""
        with self.engine.connect() as conn:
            batch = Batch(conn)
            token = self._batch.set(batch)
            try:
                yield batch
            finally:
                self._batch.reset(token)
                if not batch.committed:
                    conn.rollback()

    @contextmanager
    def _connection(self, writing: bool = False) -> Iterator[Connection]:
        """In a batch: its connection and transaction (committed by the batch); else one of
        its own, a transaction committed on leaving when `writing`."""
        batch = self._batch.get()
        if batch is not None:
            yield batch.conn
            return
        with (self.engine.begin() if writing else self.engine.connect()) as conn:
            yield conn

    def create_tables(self) -> None:
        metadata.create_all(self.engine)
        create_missing_indexes(self.engine, email_outbox, notifications)  # a database made before
        self._drop_old_indexes()
        self._widen_old_columns()

    def _drop_old_indexes(self) -> None:
        """Only when there; on PostgreSQL CONCURRENTLY (outside a transaction): a plain DROP
        INDEX takes the table's exclusive lock and waits for the open transactions of the
        instances still running, and every read and write of the outbox would queue behind it."""
        inspector = inspect(self.engine)
        present = {str(index["name"]) for table in DROPPED_INDEXES for index in inspector.get_indexes(table)}
        dropped = sorted(present.intersection(name for names in DROPPED_INDEXES.values() for name in names))
        concurrently = " CONCURRENTLY" if self.engine.dialect.name == "postgresql" else ""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in dropped:
                conn.execute(text(f'DROP INDEX{concurrently} IF EXISTS "{name}"'))

    def _widen_old_columns(self) -> None:
        """A database created with the former VARCHAR(128/254) ids gets TEXT (PostgreSQL makes
        this a catalogue change, no rewrite); SQLite never enforced the lengths."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as conn:
            for table, columns in WIDENED.items():
                limited = {row[0] for row in conn.execute(text(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                    " current_schema() AND table_name = :t AND character_maximum_length IS NOT NULL"),
                    {"t": table})}
                for column in sorted(limited & set(columns)):
                    conn.execute(text(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE TEXT'))

    def parties(self, dispute_id: str) -> Parties | None:
        return self.parties_of([dispute_id]).get(dispute_id)

    def parties_of(self, dispute_ids) -> dict[str, Parties]:
        """The remembered parties of each of these disputes that has them (one query)."""
        wanted = sorted(set(dispute_ids))
        if not wanted:
            return {}
        with self._connection() as conn:
            rows = conn.execute(self._reads.parties_of, {"ids": wanted}).mappings().all()
        return {row["dispute_id"]: Parties(row["buyer_id"], row["seller_id"]) for row in rows}

    def profiles(self, wanted: list[Recipient]) -> dict[Recipient, Profile]:
        """The profiles of these recipients that have one: `(role, id) IN (...)`, one statement
        whatever the number of recipients (SQLAlchemy compiles it once; an OR chain of one AND
        per recipient was compiled again for every batch: a quarter of the consumer's CPU)."""
        found: dict[Recipient, Profile] = {}
        with self._connection() as conn:
            for start in range(0, len(wanted), PROFILES_PER_QUERY):
                part = wanted[start:start + PROFILES_PER_QUERY]
                keys = ({"roles": [r.role for r in part], "ids": [r.id for r in part]} if self._reads.keys_as_arrays
                        else {"keys": [(r.role, r.id) for r in part]})
                found.update({Recipient(r["recipient_role"], r["recipient_id"]): Profile(r["email"], r["time_zone"])
                              for r in conn.execute(self._reads.profiles_of, keys).mappings()})
        return found

    def set_profile(self, recipient: Recipient, profile: Profile, replace: bool = True) -> None:
        """Upsert; with `replace=False` an existing profile wins (seeding from config)."""
        p = recipient_profiles.c
        this = (p.recipient_role == recipient.role, p.recipient_id == recipient.id)
        with self.engine.begin() as conn:
            exists = conn.execute(select(p.recipient_id).where(*this)).first()
            values = {"email": profile.email, "time_zone": profile.time_zone}
            if not exists:
                conn.execute(insert(recipient_profiles).values(
                    recipient_role=recipient.role, recipient_id=recipient.id, **values))
            elif replace:
                conn.execute(update(recipient_profiles).where(*this).values(**values))

    def record(self, *, event_id: str, event_type: str, dispute_id: str, notices: list[Notice],
               parties: Parties | None,
               addresses: Mapping[Recipient, str] | None = None) -> bool:
        """Store the effect of one event; False if this event was handled before."""
        if self.handled(event_id):
            return False
        try:
            self._record(event_id, event_type, dispute_id, notices, parties, addresses or {})
        except IntegrityError:
            # only the event id committed by a concurrent or earlier handler means "done": any
            # other conflict is a fault of this event's effect and must not be mistaken for it
            if self.handled(event_id):
                return False
            raise
        return True

    def handled(self, event_id: str) -> bool:
        return event_id in self.handled_among([event_id])

    def handled_among(self, event_ids) -> set[str]:
        """Which of these events were handled before (one query)."""
        wanted = sorted(set(event_ids))
        if not wanted:
            return set()
        with self._connection() as conn:
            return set(conn.execute(self._reads.handled_among, {"ids": wanted}).scalars())

    def record_all(self, effects: list[Effect]) -> None:
        """Store the effects of events none of which was handled before, in one transaction:
        all or none (an IntegrityError when one was handled meanwhile, e.g. by a consumer
        that held its partition before a rebalance; the caller then records them one by one)."""
        if not effects:
            return
        # each event a microsecond after the one before it: the inbox (newest first) and the
        # outbox (oldest due first) keep the events' order, as one transaction each kept it
        start = datetime.now(timezone.utc)
        at = [start + timedelta(microseconds=n) for n in range(len(effects))]
        with self._connection(writing=True) as conn:
            # each table's rows in one statement (row_batches.py), not one statement a row: an
            # event already handled fails the first, an IntegrityError as before
            insert_rows(conn, handled_events, [{"event_id": e.event_id} for e in effects])
            self._remember_parties(conn, self._reads.known_parties, {e.dispute_id: e.parties for e in reversed(effects) if e.parties})
            entries = [_inbox_row(effect, notice, at[n]) for n, effect in enumerate(effects)
                       for notice in effect.notices]
            insert_rows(conn, notifications, entries)
            emails = [_email_row(effect, notice, at[n]) for n, effect in enumerate(effects)
                      for notice in effect.notices if effect.addresses.get(notice.to)]
            insert_rows(conn, email_outbox, emails)

    def _record(self, event_id: str, event_type: str, dispute_id: str, notices: list[Notice],
                parties: Parties | None, addresses: Mapping[Recipient, str]) -> None:
        self.record_all([Effect(event_id, event_type, dispute_id, notices, parties, addresses)])

    @staticmethod
    def _remember_parties(conn, known_parties: Select, parties: Mapping[str, Parties]) -> None:
        """The first parties known of each dispute stay (`parties`: the batch's first of each)."""
        if not parties:
            return
        known = set(conn.execute(known_parties, {"ids": sorted(parties)}).scalars())
        new = [{"dispute_id": dispute_id, "buyer_id": p.buyer_id, "seller_id": p.seller_id}
               for dispute_id, p in parties.items() if dispute_id not in known]
        insert_rows(conn, dispute_parties, new)

    def inbox(self, recipient: str | None, limit: int = 100, *, role: str | None = None,
              before: tuple[datetime, str] | None = None, unread_only: bool = False) -> list[dict]:
        """Newest first; `before` is the (created_at, id) of the last entry of the previous page.
        A principal's own inbox is filtered on both its id and its role."""
        n = notifications.c
        query = select(notifications).order_by(n.created_at.desc(), n.id.desc()).limit(limit)
        if recipient is not None:
            query = query.where(n.recipient == recipient)
        if role is not None:
            query = query.where(n.recipient_role == role)
        if unread_only:
            query = query.where(n.read_at.is_(None))
        if before is not None:
            at, last_id = before
            # a row value: the index's own order, entered at the cursor (an OR of the two
            # conditions read every entry newer than the cursor again, page after page)
            query = query.where(tuple_(n.created_at, n.id) < tuple_(literal(at, n.created_at.type),
                                                                  literal(last_id, n.id.type)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [dict(row) for row in rows]

    def mark_read(self, notification_id: str, recipient: Recipient | None) -> bool:
        """None: anyone's notification (operators); else only one of this recipient's."""
        query = update(notifications).where(notifications.c.id == notification_id)
        if recipient is not None:
            query = query.where(notifications.c.recipient == recipient.id,
                                notifications.c.recipient_role == recipient.role)
        with self.engine.begin() as conn:
            read_at = func.coalesce(notifications.c.read_at, datetime.now(timezone.utc))
            return conn.execute(query.values(read_at=read_at)).rowcount == 1


def _inbox_row(effect: Effect, notice: Notice, now: datetime) -> dict:
    return {"id": str(uuid4()), "recipient": notice.recipient, "recipient_role": notice.recipient_role,
            "event_id": effect.event_id, "event_type": effect.event_type,
            "dispute_id": effect.dispute_id, "subject": notice.subject, "body": notice.body,
            "created_at": now, "read_at": None}


def _email_row(effect: Effect, notice: Notice, now: datetime) -> dict:
    return {"id": str(uuid4()), "event_id": effect.event_id, "recipient": notice.to.key,
            "to_address": effect.addresses[notice.to], "subject": notice.subject,
            "body": notice.body, "created_at": now, "attempts": 0, "next_attempt_at": now,
            "sent_at": None, "failed_at": None, "last_error": None}
