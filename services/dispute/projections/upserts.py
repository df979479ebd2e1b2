"""A batch of projection rows in one statement instead of a read and a write per row: on a
rebuild of a million events the round trips were nearly all of the time.

On PostgreSQL a large batch is COPY'd into a temporary table shaped like the target (dropped
at commit), then moved with one `INSERT ... SELECT ... ON CONFLICT`: COPY costs a fraction of a
parameterised insert per row. A batch of at most SMALL_BATCH rows (what the projections
following the store write, a round at a time) is one `INSERT ... SELECT FROM unnest(...) ON
CONFLICT` instead (services/common/row_batches.py): one statement, not four (create, copy,
insert, drop), its rows passed as one array a column, in key order like the COPY path's. On
SQLite (tests, a laptop) one executemany of the same `INSERT ... ON CONFLICT`. Values go
through each column type's own bind processing either way (UTC datetimes, JSON text), so the
stored rows are the ones SQLAlchemy would have written.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite

from services.common.row_batches import insert_rows

SMALL_BATCH = 200


def upsert_newer(conn, table: Table, rows: Sequence[dict], key: str, version: str = "version") -> None:
    """Insert each row, or replace the stored one unless the stored one is newer."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        q = conn.dialect.identifier_preparer.quote
        changed = ", ".join(f"{q(c.name)} = EXCLUDED.{q(c.name)}" for c in table.columns if c.name != key)
        _postgres(conn, table, rows, f"ON CONFLICT ({q(key)}) DO UPDATE SET {changed} "
                                     f"WHERE {q(table.name)}.{q(version)} <= EXCLUDED.{q(version)}")
        return
    statement = sqlite.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: statement.excluded[c.name] for c in table.columns if c.name != key},
        where=table.c[version] <= statement.excluded[version])
    conn.execute(statement, list(rows))


def insert_missing(conn, table: Table, rows: Sequence[dict], fresh: bool = False) -> None:
    """Insert each row whose primary key is not stored yet; keep the stored ones as they are.
    `fresh`: no row of `rows` can be stored yet and nobody else writes the table (a rebuild's
    generation before it goes live): on PostgreSQL the rows are COPY'd straight into it (a key
    stored already fails the transaction: IntegrityError, never a row replaced)."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    if fresh and conn.dialect.name == "postgresql":
        _copied(conn, table, table.name, rows)
        return
    if conn.dialect.name == "postgresql":
        q = conn.dialect.identifier_preparer.quote
        _postgres(conn, table, rows, f"ON CONFLICT ({', '.join(map(q, keys))}) DO NOTHING")
        return
    conn.execute(sqlite.insert(table).on_conflict_do_nothing(index_elements=keys), list(rows))


def _copied_then_inserted(conn, table: Table, rows: Sequence[dict], on_conflict: str) -> None:
    q = conn.dialect.identifier_preparer.quote
    stage, columns = q(f"stage_{table.name}"), [c.name for c in table.columns]
    names = ", ".join(map(q, columns))
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} (LIKE {q(table.name)}) ON COMMIT DROP")
    _copied(conn, table, f"stage_{table.name}", rows)
    # rows locked in key order: two runners on overlapping batches never wait on each other
    # crosswise (a deadlock), whatever order their batches came in
    order = ", ".join(q(c.name) for c in table.primary_key.columns)
    conn.exec_driver_sql(f"INSERT INTO {q(table.name)} ({names}) SELECT {names} FROM {stage} "
                         f"ORDER BY {order} {on_conflict}")
    conn.exec_driver_sql(f"DROP TABLE {stage}")  # a second batch in the same transaction stages again


def _copied(conn, table: Table, into: str, rows: Sequence[dict]) -> None:
    """COPY `rows` (shaped as `table`'s) into the table named `into`, each value through its
    column type's bind processing."""
    q = conn.dialect.identifier_preparer.quote
    columns = [c.name for c in table.columns]
    processed = [(name, c.type.bind_processor(conn.dialect)) for name, c in zip(columns, table.columns)]
    cursor = conn.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {q(into)} ({', '.join(map(q, columns))}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:  # `_bound` inline: a call per value was a tenth of a timeline row's cost
            write([row[name] if p is None else p(row[name]) for name, p in processed])


def _postgres(conn, table: Table, rows: Sequence[dict], on_conflict: str) -> None:
    if len(rows) > SMALL_BATCH:
        _copied_then_inserted(conn, table, rows, on_conflict)
    else:
        insert_rows(conn, table, rows, on_conflict)  # one unnest statement (row_batches.py)
