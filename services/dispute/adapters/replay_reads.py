"""Reading a notification log in large batches for a replay (projection rebuild, audit export
and verify): the same rows as the recorder's `select_notifications`, in a fraction of its CPU.

The library's read asks psycopg for a dict per row and builds a frozen dataclass from it (five
`object.__setattr__` each): 5.3 us an event of a replay's ~30, against 1.5 us for the same
rows as tuples in binary (the UUID from its 16 bytes, the state bytes as they are) made into
`StoredRow`s, a named tuple with the same attributes (`id`, `originator_id`,
`originator_version`, `topic`, `state`) that the mapper and the replay code read. A recorder
that is not the PostgreSQL one (SQLite in tests) is read through its own method.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.errors import InterfaceError, OperationalError
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier


class StoredRow(NamedTuple):
    """One stored event of a notification log, as the recorder's `Notification` has it."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


_COLUMNS = "notification_id, originator_id, originator_version, topic, state"


def read_notifications(recorder: Any, start: int, limit: int, stop: int | None = None) -> Sequence[Any]:
    """At most `limit` stored events after notification `start` (up to `stop`), in order."""
    if not isinstance(recorder, PostgresApplicationRecorder):
        return recorder.select_notifications(start, limit, stop=stop, inclusive_of_start=False)
    return _postgres(recorder, start, limit, stop)


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's read
def _postgres(recorder: PostgresApplicationRecorder, start: int, limit: int,
              stop: int | None) -> list[StoredRow]:
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        if stop is None:
            cursor.execute(_statement(recorder, False), [start, limit], prepare=True, binary=True)
        else:
            cursor.execute(_statement(recorder, True), [start, stop, limit], prepare=True, binary=True)
        return list(map(StoredRow._make, cursor.fetchall()))


_statements: dict[tuple[str, str, bool], Composed] = {}


def _statement(recorder: PostgresApplicationRecorder, bounded: bool) -> Composed:
    key = (recorder.datastore.schema, recorder.events_table_name, bounded)
    if key not in _statements:
        _statements[key] = SQL(
            "SELECT " + _COLUMNS + " FROM {schema}.{table} WHERE notification_id > %s"
            + (" AND notification_id <= %s" if bounded else "") + " ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    return _statements[key]
