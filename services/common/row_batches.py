"""A batch of rows into one table in one statement: on PostgreSQL `INSERT ... SELECT FROM
unnest(<one array a column>)`, on SQLite (tests, a laptop) one executemany.

An executemany of a plain INSERT is one statement per row on the server (psycopg pipelines
them, but PostgreSQL parses, plans and executes each), and SQLAlchemy's multi-row VALUES
instead builds a statement whose text grows with the rows, rendered in Python each time (tried
for the notification store: its CPU per event rose). The unnest statement's text depends only
on the table, so psycopg prepares it once per connection, and its rows go as one binary array a
column. Every value goes through its column type's own bind processing (UTC datetimes, JSON
text), so the stored rows are the ones SQLAlchemy would have written.

It runs through SQLAlchemy's `exec_driver_sql`, so a failure is SQLAlchemy's (an
`IntegrityError`, an `OperationalError` that invalidates a dead connection) as for any other
statement of the caller's.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from sqlalchemy import String, Table, insert


def insert_rows(conn, table: Table, rows: Sequence[dict], on_conflict: str = "") -> None:
    """Insert `rows` (each a value for every column of `table`) in one statement; `on_conflict`
    (PostgreSQL's clause, e.g. `ON CONFLICT (id) DO NOTHING`) only on PostgreSQL: without it a
    row whose key is stored fails the statement, as a plain INSERT does."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        try:
            arrays = column_arrays(conn.dialect, table, rows)
        except KeyError as missing:  # as on SQLite, not a default taken silently there only
            raise ValueError(f"a row for {table.name} lacks the column {missing}") from None
        conn.exec_driver_sql(unnest_insert(conn.dialect, table, on_conflict), arrays)
        return
    if on_conflict:
        raise ValueError("on_conflict is PostgreSQL's clause: on SQLite build the statement with it")
    names = {c.name for c in table.columns}
    if any(not names <= row.keys() for row in rows):
        raise ValueError(f"every row for {table.name} needs a value for each of its columns")
    conn.execute(insert(table), list(rows))


@lru_cache(maxsize=256)  # per table and clause: its types compiled once, not per batch
def unnest_insert(dialect, table: Table, on_conflict: str = "") -> str:
    """The statement's text. Rows in key order: two writers of overlapping batches then lock
    their keys in the same order and never wait on each other crosswise (a deadlock)."""
    q = dialect.identifier_preparer.quote
    columns = list(table.columns)
    names = ", ".join(q(c.name) for c in columns)
    # `%b`, binary arrays: their text form quotes every value in Python, character by character
    unnest = ", ".join(f"%b::{_unbounded(c.type).compile(dialect=dialect)}[]" for c in columns)
    keys = ", ".join(q(c.name) for c in table.primary_key.columns)
    order = f" ORDER BY {keys}" if keys else ""
    return (f"INSERT INTO {q(table.name)} ({names}) SELECT * FROM unnest({unnest}) AS u({names})"
            f"{order} {on_conflict}").rstrip()


def _unbounded(type_):
    """A VARCHAR(n) cast as VARCHAR: an explicit cast cuts a longer string to n characters,
    where the INSERT's own assignment to the column refuses it, as a plain INSERT does."""
    if isinstance(type_, String) and type_.length is not None:
        return String(collation=type_.collation)
    return type_


def column_arrays(dialect, table: Table, rows: Sequence[dict]) -> tuple[list, ...]:
    """One list a column, each value through the column type's bind processing."""
    return tuple(_column(c.name, c.type.bind_processor(dialect), rows) for c in table.columns)


def _column(name: str, processor: Any, rows: Sequence[dict]) -> list:
    if processor is None:
        return [row[name] for row in rows]
    return [processor(row[name]) for row in rows]
