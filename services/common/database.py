"""One database URL per service (`sqlite:///path` or `postgresql://...`), two uses of it:
eventsourcing's environment for the event store, and a SQLAlchemy engine for our own tables.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Callable, TypeVar, cast
from urllib.parse import unquote, urlparse

from datetime import datetime, timezone

import structlog
from sqlalchemy import DateTime, Engine, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex
from sqlalchemy.types import TypeDecorator

log = structlog.get_logger("database")


class UtcDateTime(TypeDecorator):
    """A timestamp that goes in and comes out as an aware UTC datetime on every database:
    SQLite keeps no zone (SQLAlchemy hands back naive values there), PostgreSQL converts to
    the session's zone. A naive value going in is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def eventsourcing_env(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = _sqlite_path(url)
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": "10"}
    if parsed.scheme.startswith("postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parsed.path.lstrip("/"),
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "10",
        }
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")


def sqlalchemy_engine(url: str, pre_ping: bool = True, pool_size: int = 10) -> Engine:
    """`pre_ping`: each PostgreSQL connection taken from the pool is tried first (a round trip
    per checkout), so one PostgreSQL dropped (a restart) is replaced unseen. Without it (the refund
    service, three checkouts a refund) the first statement on such a connection fails, SQLAlchemy
    then drops every pooled connection, and the caller tries again (`once_more_after_a_lost_connection`).
    `pool_size`: PostgreSQL connections kept open (10 more are opened when they are all in
    use, and closed again as they are given back: a process using more than `pool_size` at
    once keeps opening connections)."""
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    url = url.replace("postgresql://", "postgresql+psycopg://", 1).replace("postgres://", "postgresql+psycopg://", 1)
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=pre_ping)


F = TypeVar("F", bound=Callable[..., Any])


def once_more_after_a_lost_connection(method: F) -> F:
    """Run a database call again, once, when it failed because its pooled connection was dead
    (an engine without pre-ping, after a PostgreSQL restart: SQLAlchemy has invalidated the pool
    by then, so the second try gets a new connection; a database still away fails it again).
    Only for calls that may run twice: a connection lost during COMMIT leaves it unknown whether
    the first try committed, so the call must be idempotent or a compare-and-set."""
    @functools.wraps(method)
    def once_more(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.info("database_connection_lost_trying_again", call=method.__qualname__,
                     error=str(error).splitlines()[0][:200])
            return method(*args, **kwargs)
    return cast(F, once_more)


def sqlite_path_of(url: str) -> str | None:
    """The file of a `sqlite:///PATH` URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("sqlite:///", 1)[-1]
    return path if path and path != ":memory:" else None


def _sqlite_path(url: str) -> str:
    path = url.split("sqlite:///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_missing_indexes(engine, *tables) -> None:
    """Every index of `tables` the database lacks: `create_all` makes a table's indexes only
    with the table, so an index added later never reached a store made before it. On PostgreSQL
    each is built CONCURRENTLY (outside a transaction): a plain CREATE INDEX on a large live
    table would hold off every write of the instances still running until it is built. A
    process racing us collides on the name (`create_schema_racing_others` tries again) or finds
    it there; one left INVALID by a build that was cut short is named in the log, for REINDEX."""
    missing = []
    for table in tables:
        present = _index_names(engine, table.name)
        missing += [index for index in sorted(table.indexes, key=lambda i: str(i.name)) if index.name not in present]
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            for index in missing:
                index.create(conn, checkfirst=True)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for index in missing:
            ddl = str(CreateIndex(index, if_not_exists=True).compile(dialect=conn.dialect))
            conn.exec_driver_sql(re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", ddl))
        invalid = conn.exec_driver_sql(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE NOT i.indisvalid AND c.relname = ANY(%s)",
            ([str(index.name) for table in tables for index in table.indexes],)).scalars().all()
        for name in invalid:
            log.warning("index_invalid_reindex_it", index=name)


def _index_names(engine, table_name: str) -> set[str]:
    """The names of a table's indexes, from the catalog: SQLAlchemy's reflection skips (with a
    warning) an index on an expression on SQLite, which would then be created at every start."""
    if engine.dialect.name == "sqlite":
        query, params = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table_name,)
    elif engine.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
        params = (table_name,)
    else:
        return {str(index["name"]) for index in inspect(engine).get_indexes(table_name)}
    with engine.connect() as conn:
        return {str(name) for name in conn.exec_driver_sql(query, params).scalars()}


def postgres_probe(url: str) -> Callable[[], None] | None:
    """A direct connection to the PostgreSQL of `url`, opened and closed (None for SQLite): the
    eventsourcing library's pool says only "couldn't get a connection after 30 sec", whatever
    the reason, so a missing database or a refused login looked like a database not up yet
    (waited for a minute and a half); psycopg's own error names the reason at once."""
    if not urlparse(url).scheme.startswith("postgres"):
        return None
    env = eventsourcing_env(url)

    def probe() -> None:
        import psycopg

        psycopg.connect(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                        port=int(env["POSTGRES_PORT"]), user=env["POSTGRES_USER"],
                        password=env["POSTGRES_PASSWORD"] or None, connect_timeout=5).close()
    return probe


def create_schema_racing_others(create, attempts: int = 5, wait_for_database: float = 60.0,
                                sleep=None, clock=None, probe: Callable[[], None] | None = None):
    """Two processes creating the same tables at once collide in PostgreSQL's catalogue
    (IF NOT EXISTS is not atomic) and on SQLite ("table ... already exists": the API and the
    relay of a first `make run`); the loser simply tries again and finds them there.

    A database that does not answer yet (a service started while PostgreSQL restarts, or before
    it is up) is waited for, up to `wait_for_database` seconds (0.5 s doubling to 5 s between
    tries), instead of the process exiting at once; any other error (a refused login, a missing
    database, a disk error) raises at once. `probe` (`postgres_probe`), when given, is called
    before each try: its errors are judged the same way."""
    import time

    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + wait_for_database
    collisions, pause = 0, 0.5
    while True:
        try:
            if probe is not None:
                probe()
            return create()
        except Exception as error:
            kind = _schema_failure(error)
            if kind == "collision" and collisions < attempts - 1:
                collisions += 1
                sleep(0.2 * collisions)
            elif kind == "unreachable" and clock() + pause <= deadline:
                log.warning("database_unavailable", error=str(error).splitlines()[0][:300],
                            retry_in_seconds=pause)
                sleep(pause)
                pause = min(pause * 2, 5.0)
            else:
                raise


# Two processes altering the same catalogue row at once (CREATE ... IF NOT EXISTS, an index or
# a comment on one table): seen as the dispute API's start-up failure in a chaos run.
_CONCURRENT_CATALOGUE_UPDATE = "tuple concurrently updated"
# What psycopg, its pool and eventsourcing say when PostgreSQL is not (yet, or any more) there.
_UNREACHABLE = ("connection failed", "connection refused", "couldn't get a connection",
                "could not connect", "the database system is starting up",
                "the database system is shutting down", "the database system is in recovery mode",
                "server closed the connection", "terminating connection", "connection timeout",
                "timeout expired",
                # a container's name does not resolve while the container is down
                "failed to resolve host", "temporary failure in name resolution",
                "name or service not known")
# ... but also say "connection failed" before these, which no wait will mend.
_MISCONFIGURED = ("does not exist", "password authentication failed", "no password supplied",
                  "permission denied", "no pg_hba.conf entry")


def _schema_failure(error: Exception) -> str:
    """'collision' (another process created the tables first), 'unreachable' (the database
    does not answer: worth waiting for) or 'other'."""
    from eventsourcing.persistence import IntegrityError as StoreIntegrityError
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from psycopg import OperationalError as PsycopgOperationalError
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    text = str(error)
    if isinstance(error, (StoreIntegrityError, IntegrityError, ProgrammingError)):
        return "collision"
    if _CONCURRENT_CATALOGUE_UPDATE in text:  # an InternalError (XX000), whatever wraps it
        return "collision"
    if isinstance(error, (OperationalError, StoreOperationalError, PsycopgOperationalError)):
        if "already exists" in text:
            return "collision"
        lowered = text.lower()
        if any(marker in lowered for marker in _MISCONFIGURED):
            return "other"
        if any(marker in lowered for marker in _UNREACHABLE):
            return "unreachable"
    return "other"
