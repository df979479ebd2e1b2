"""PostgreSQL statements per command, from pg_stat_statements (a benchmark's own server only:
the module must be preloaded, `OPTIONS`). Every database of the server is counted (the
dispute store is read and written by the API and the relay; the other services have their
own databases); BEGIN and COMMIT are statements too (`track_utility`)."""

from __future__ import annotations

from collections import Counter

import psycopg

OPTIONS = ("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all",
           "pg_stat_statements.track_utility=on")


class StatementCount:
    """`reset()` before a phase, `per_command(n)` after it: statements per command by database
    and the most frequent statements of `database`."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def reset(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")

    def per_command(self, commands: int, database: str, top: int = 25) -> tuple[dict[str, float], list[tuple[float, str]]]:
        rows = self._statements()
        by_query: Counter[str] = Counter()
        for datname, query, calls, _ in rows:
            if datname == database:
                by_query[" ".join(query.split())[:140]] += calls
        n = max(1, commands)
        return (_per_database(rows, n), [(round(calls / n, 3), query) for query, calls in by_query.most_common(top)])

    def by_time(self, commands: int, top: int = 15) -> tuple[dict[str, float], list[tuple[float, float, str, str]]]:
        """Statements per command by database, and the `top` statements of any database by the
        server's time in them: (calls, ms per command, database, statement)."""
        rows = self._statements()
        n = max(1, commands)
        slowest = sorted(rows, key=lambda row: -row[3])[:top]
        return (_per_database(rows, n), [(calls / n, ms / n, datname, " ".join(query.split())[:120])
                                         for datname, query, calls, ms in slowest])

    def _statements(self) -> list[tuple[str, str, int, float]]:
        """(database, statement, calls, total ms) of every statement counted since the reset."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute("SELECT d.datname, s.query, s.calls, s.total_exec_time FROM pg_stat_statements s "
                                "JOIN pg_database d ON d.oid = s.dbid").fetchall()


def _per_database(rows: list[tuple[str, str, int, float]], n: int) -> dict[str, float]:
    by_database: Counter[str] = Counter()
    for datname, _, calls, _ in rows:
        by_database[datname] += calls
    return {name: round(calls / n, 2) for name, calls in by_database.most_common()}
