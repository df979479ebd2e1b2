"""Event recorders that also write idempotency records, in the transaction of the events.

A batch of commands is stored by one `insert_events(stored_events, idempotency=[...])`: the
events and the answers kept for their Idempotency-Keys commit together or not at all, so a
crash can no longer leave events whose key was never recorded (a retry then ran the command
a second time). A key recorded twice (two processes, one key) violates the key's primary key
and fails the transaction like a version conflict does (IntegrityError).

eventsourcing's `_insert_events(cursor, stored_events, **kwargs)` is the hook its own process
recorder uses for tracking rows; the application picks these classes by
`APPLICATION_RECORDER_TOPIC` (`recorder_topic`).
"""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any, Mapping, Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composed, Identifier

from services.dispute.adapters.idempotency_store import KeyRecord, idempotency_keys

COLUMNS = ("principal", "idempotency_key", "fingerprint", "claim", "created_at", "status_code",
           "media_type", "headers", "body")
# SQLAlchemy's text form of a DateTime on SQLite (how IdempotencyStore reads it back).
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _rows(records: Sequence[KeyRecord], sqlite: bool) -> list[tuple]:
    # One order for every writer: two transactions taking the same keys never wait on each
    # other crosswise (a deadlock).
    ordered = sorted(records, key=lambda r: (r.principal, r.key))
    return [(r.principal, r.key, r.fingerprint, r.claim,
             r.created_at.astimezone(timezone.utc).strftime(SQLITE_TIME) if sqlite else r.created_at,
             r.status_code, r.media_type, json.dumps(r.headers), r.body) for r in ordered]


def _insert_statement(placeholder: str) -> str:
    return (f"INSERT INTO {idempotency_keys.name} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join([placeholder] * len(COLUMNS))})")


# A batch's keys in one statement, one array a column: an executemany was one INSERT per key
# (a third of PostgreSQL's statements per command); rows in the order given (key order).
# `%b`: each array sent in binary (with `%s` psycopg writes the text form, quoting every
# answer's JSON in Python character by character: more CPU than the whole events insert).
POSTGRES_TYPES = ("text", "text", "text", "text", "timestamptz", "integer", "text", "text", "text")
POSTGRES_INSERT = (f"INSERT INTO {idempotency_keys.name} ({', '.join(COLUMNS)}) "
                   f"SELECT {', '.join(COLUMNS)} FROM unnest("
                   f"{', '.join(f'%b::{kind}[]' for kind in POSTGRES_TYPES)}) WITH ORDINALITY "
                   f"AS k({', '.join(COLUMNS)}, n) ORDER BY n")

# The live-or-stale judgement of these rows stays IdempotencyStore's (`live`).
KEYS_SELECT = (f"SELECT {', '.join(COLUMNS)} FROM {idempotency_keys.name} "
               "JOIN unnest(%s::text[], %s::text[]) AS wanted(p, k) "
               "ON principal = wanted.p AND idempotency_key = wanted.k")


def _rendered(statement: Any) -> Any:
    """A composed statement as one plain SQL of its text (what psycopg sends for it; it still
    takes `+ SQL(...)`, as the library's select_events extends its statement)."""
    return SQL(statement.as_string(None)) if isinstance(statement, Composed) else statement


class KeyedPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        # The library's insert sends the events as one array of a composite type, which
        # psycopg can only write as text (every state's bytes escaped in Python: ~15% of the
        # API's CPU under load). The same rows as four binary arrays, inserted in the order
        # given, so the notification ids follow it as the library's unnest does.
        self.insert_binary_events_statement = self._on_events_table(
            "INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state)"
            " SELECT originator_id, originator_version, topic, state"
            " FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) WITH ORDINALITY"
            " AS e(originator_id, originator_version, topic, state, n) ORDER BY n"
            " RETURNING notification_id")
        self.select_newer_statement = self._on_events_table(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {schema}.{table} e"
            " JOIN unnest(%s::{id_type}[], %s::bigint[]) AS k(id, v)"
            " ON e.originator_id = k.id AND e.originator_version > k.v"
            " ORDER BY e.originator_id, e.originator_version")
        # The library's statements of a save and a load as plain text too, rendered once (as
        # `_on_events_table` renders ours): psycopg renders a composed statement again on each
        # execute (an identifier through libpq's escaping, a literal through its adapter), and
        # the library composes its NOTIFY anew on each save: ~15 us a batch and ~3 us a load
        # for the same bytes every time (1-2% of a command).
        self.lock_table_statements = [_rendered(s) for s in self.lock_table_statements]
        self.select_events_statement = _rendered(self.select_events_statement)
        self.notify_statement = _rendered(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))

    def _on_events_table(self, text: str) -> SQL:
        """`text` with this recorder's schema, events table and originator id type in it,
        rendered once."""
        return _rendered(SQL(text).format(schema=Identifier(self.datastore.schema),
                                          table=Identifier(self.events_table_name),
                                          id_type=SQL(self.datastore.originator_id_type)))

    def _notify_channel(self, curs: Any) -> None:
        curs.execute(self.notify_statement)

    def select_newer(self, known: Mapping[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        """The events stored after the given version of each dispute, in one query: what
        another process wrote since a writer cached them (application/writer.py)."""
        return self.select_keys_and_newer([], known)[1]

    def select_keys_and_newer(self, scopes: Sequence[tuple[str, str]], known: Mapping[UUID, int]
                              ) -> tuple[list[dict[str, Any]], dict[UUID, list[StoredEvent]]]:
        """A batch's two look-ups before it runs, on one connection in one round trip: the
        rows of its Idempotency-Keys (principal, key) and `select_newer(known)`. Each was a
        connection checkout of its own (the keys' a transaction of SQLAlchemy's too)."""
        rows: list[dict[str, Any]] = []
        newer: dict[UUID, list[StoredEvent]] = {}
        if not scopes and not known:
            return rows, newer
        with self.datastore.get_connection() as conn, conn.pipeline(), \
                conn.cursor() as keys, conn.cursor() as events:
            if scopes:
                keys.execute(KEYS_SELECT, [[p for p, _ in scopes], [k for _, k in scopes]])
            if known:
                events.execute(self.select_newer_statement, [list(known), list(known.values())])
            if scopes:
                rows = keys.fetchall()
            for row in events.fetchall() if known else ():
                newer.setdefault(row["originator_id"], []).append(StoredEvent(
                    originator_id=row["originator_id"], originator_version=row["originator_version"],
                    topic=row["topic"], state=bytes(row["state"])))
        return rows, newer

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        records = kwargs.get("idempotency") or ()
        if records:
            # binary arrays (POSTGRES_INSERT's `%b`; `binary=True` here only asked for binary
            # results, of which an INSERT has none, and left the arrays as text)
            curs.execute(POSTGRES_INSERT, [list(column) for column in zip(*_rows(records, sqlite=False))])
        super()._insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """As the library's (eventsourcing 9.5.6): the table lock first, then the NOTIFY, then
        the insert, all in the transaction `insert_events` commits; only the rows' encoding
        differs."""
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_binary_events_statement,
                     [[e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
                      [e.topic for e in stored_events], [e.state for e in stored_events]])


class KeyedSQLiteRecorder(SQLiteApplicationRecorder):
    def select_newer(self, known: Mapping[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        """As KeyedPostgresRecorder.select_newer (a query per dispute: SQLite is in process)."""
        newer = {dispute_id: list(self.select_events(dispute_id, gt=version))
                 for dispute_id, version in known.items()}
        return {dispute_id: events for dispute_id, events in newer.items() if events}

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        records = kwargs.get("idempotency") or ()
        if records:
            c.executemany(_insert_statement("?"), _rows(records, sqlite=True))
        return notification_ids


def recorder_topic(persistence_module: str | None) -> str | None:
    """The keyed recorder of the persistence module (None: the library's own, e.g. POPO)."""
    classes = {"eventsourcing.postgres": KeyedPostgresRecorder,
               "eventsourcing.sqlite": KeyedSQLiteRecorder}
    chosen = classes.get(persistence_module or "")
    return None if chosen is None else f"{__name__}:{chosen.__name__}"
