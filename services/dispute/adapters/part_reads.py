"""Reading one part of the disputes' events from a notification log, for a rebuild in parts
(projections/tracked.py `project_part`): each worker reads only its own disputes' rows, instead
of every row of the log to drop most of them (on PostgreSQL the filter runs in the server; the
rows a worker skipped were a third of its CPU).

A dispute's part is the last byte of its id modulo the number of parts: PostgreSQL computes the
same from the uuid column (`get_byte(uuid_send(id), 15)`). Not the shard hash
(adapters/shards.py): the disputes of one shard would then all fall in one part.

Each read on PostgreSQL covers a window of `limit * parts` notification ids, not everything up
to `stop`: the planner cannot tell how many rows the part filter keeps, so over a wide range it
expected fewer than `limit` in all and chose a parallel sequential scan of the whole table and
an on-disk sort, for every batch (600 ms a batch at 1,000,000 events, against 4-10 ms for the
index scan of a window; two workers' rebuild spent 51 s of PostgreSQL CPU, one process 8 s).
"""

from __future__ import annotations

from typing import Any, Sequence
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from services.dispute.adapters.replay_reads import StoredRow


def dispute_part(dispute_id: UUID, parts: int) -> int:
    return dispute_id.bytes[15] % parts


def part_notifications(recorder: Any, start: int, stop: int, limit: int, part: int,
                       parts: int) -> tuple[Sequence[Any], int]:
    """(the notifications of part `part` after `start` up to `stop`, at most `limit`; the id
    read up to). Fewer than `limit` (none, even) when the part has no more in the ids read."""
    if isinstance(recorder, PostgresApplicationRecorder):
        # ids are dense in practice, so a window of limit * parts ids holds ~limit of the part's
        window_end = min(stop, start + limit * parts)
        rows = _postgres_part(recorder, start, window_end, limit, part, parts)
        return rows, rows[-1].id if len(rows) == limit else window_end
    scanned = recorder.select_notifications(start, limit * parts, stop=stop, inclusive_of_start=False)
    mine = [n for n in scanned if dispute_part(n.originator_id, parts) == part]
    return mine, scanned[-1].id if scanned else stop


def _postgres_part(recorder: PostgresApplicationRecorder, start: int, stop: int, limit: int,
                   part: int, parts: int) -> list[StoredRow]:
    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE notification_id > %s AND notification_id <= %s "
        "AND get_byte(uuid_send(originator_id), 15) %% %s = %s ORDER BY notification_id LIMIT %s"
    ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        cursor.execute(statement, [start, stop, parts, part, limit], binary=True)
        return list(map(StoredRow._make, cursor.fetchall()))  # as replay_reads reads them
