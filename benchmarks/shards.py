"""Command throughput of an event store of one shard beside two, in one run.

    .venv/bin/python -m benchmarks.shards        # starts a durable PostgreSQL of its own

Every save of one event store takes its table's exclusive lock until commit, so one store
commits one command at a time whatever the threads; shards have a table (and lock) each, so
their commits overlap. Measured: dispute commands/s (load, one domain call, save; the same
work as `make bench`) through the routing facade with one and with two shards, on the same
server and threads; baseline: raw single-row PostgreSQL transactions on the same threads. The
shards share one server here (one disk, one WAL); shards on their own servers do not.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.in_process import dispute_commands, raw_postgres_inserts  # noqa: E402

THREADS = [int(t) for t in os.environ.get("BENCH_SHARD_THREADS", "4,8").split(",")]
COMMANDS = int(os.environ.get("BENCH_COMMANDS", "2000"))


def sharded(pg, name: str, shards: int):
    from services.dispute.bootstrap import build_disputes
    from services.dispute.settings import DisputeSettings

    urls = [pg.create_database(f"{name}_s{i}") for i in range(shards)]
    return build_disputes(DisputeSettings(database_url=urls[0], shard_urls=",".join(urls)))


def main() -> int:
    from infra.postgres import PostgresServer
    from services.common.logging import configure_logging

    configure_logging("WARNING")
    folder = Path(tempfile.mkdtemp(prefix="dispute-bench-shards-"))
    pg = PostgresServer(folder / "pg", durable=True).start()
    rows = []
    try:
        for threads in THREADS:
            raw = raw_postgres_inserts(pg.create_database(f"raw_{threads}"), COMMANDS, threads)
            one = dispute_commands(sharded(pg, f"one_{threads}", 1), COMMANDS, threads)
            two = dispute_commands(sharded(pg, f"two_{threads}", 2), COMMANDS, threads)
            rows.append((threads, raw, one, two))
            print(f"{threads} threads done", flush=True)
    finally:
        pg.stop()
    print(f"\n{'threads':>7}{'raw PG tx/s':>14}{'1 shard cmd/s':>16}{'2 shards cmd/s':>17}"
          f"{'1/raw':>8}{'2/raw':>8}{'2/1':>7}")
    for threads, raw, one, two in rows:
        print(f"{threads:>7}{raw:>14,.0f}{one:>16,.0f}{two:>17,.0f}{one / raw:>8.2f}{two / raw:>8.2f}"
              f"{two / one:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
