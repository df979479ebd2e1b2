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
from typing import Any, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

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


class KeyedPostgresRecorder(PostgresApplicationRecorder):
    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        records = kwargs.get("idempotency") or ()
        if records:
            curs.executemany(_insert_statement("%s"), _rows(records, sqlite=False))
        super()._insert_events(curs, stored_events, **kwargs)


class KeyedSQLiteRecorder(SQLiteApplicationRecorder):
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
