"""CPU per HTTP command in process, without sockets or a load generator: the dispute API's ASGI
app (SQLite store in /dev/shm, no Kafka, no workers) called directly, `--concurrency` commands
at a time (so the writer batches them as it does under load), beside `GET /healthz` through
the same app. Steadier than the system bench on a shared machine, for comparing changes to
the HTTP layer; `--profile FILE` writes a cProfile of the command phase.

`--postgres`: the store on a private durable PostgreSQL instead (started here, with
pg_stat_statements): the PostgreSQL CPU and statements per command are printed too.
`--workers`: the process also runs what it runs as deployed (the projections following the
store, the deadline worker), and a phase ends only once the projections have caught up, so
their CPU counts.

    .venv/bin/python -m benchmarks.http_cpu [--commands 3000] [--concurrency 32] [--profile out.prof]
    .venv/bin/python -m benchmarks.http_cpu --postgres --workers --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

from benchmarks.memory import cpu_seconds
from benchmarks.pg_statements import OPTIONS, StatementCount
from benchmarks.workload import party
from infra.postgres import PostgresServer
from services.common.auth import DEV_SECRET
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings


async def call(app, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    sent: list[dict] = []
    given = False

    async def receive():
        nonlocal given
        if given:
            await asyncio.sleep(3600)
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def orders_for(app, buyers: list) -> None:
    from tests.support.orders import order_placed  # test data builders, not a service import
    now = datetime.now(timezone.utc)
    for n, buyer in enumerate(buyers):
        app.state.orders.apply(order_placed(order_id=f"O-{n}", buyer=buyer.id, seller="S-1", now=now))


async def open_all(app, buyers: list) -> list[str]:
    ids = []
    for n, buyer in enumerate(buyers):
        body = json.dumps({"order_id": f"O-{n}", "item_id": "I-1", "reason": "DAMAGED",
                           "request": "FULL_REFUND", "description": "bench"}).encode()
        status, answer = await call(app, "POST", "/v1/disputes", buyer.headers(f"open-{n}"), body)
        assert status == 201, answer
        ids.append(json.loads(answer)["id"])
    return ids


async def waves(app, count: int, concurrency: int, request) -> list[int]:
    statuses: list[int] = []
    for start in range(0, count, concurrency):
        batch = await asyncio.gather(*(request(n) for n in range(start, min(count, start + concurrency))))
        statuses += [status for status, _ in batch]
    return statuses


async def caught_up(app) -> None:
    """Until every projection has projected the whole store (no-op without workers)."""
    if not app.state.settings.run_workers:
        return
    head = app.state.disputes.recorder.max_notification_id() or 0
    while min(await asyncio.to_thread(lambda: [p.position() for p in app.state.projections])) < head:
        await asyncio.sleep(0.01)


async def measure(app, args, pg: "PostgresCost | None") -> None:
    buyers = [party("buyer", f"B-{n}") for n in range(args.disputes)]
    orders_for(app, buyers)
    ids = await open_all(app, buyers)

    def message(n: int):
        buyer = buyers[n % len(buyers)]
        return call(app, "POST", f"/v1/disputes/{ids[n % len(ids)]}/messages",
                    buyer.headers(f"m-{uuid4().hex}"), json.dumps({"text": f"any news? ({n})"}).encode())

    health = lambda n: call(app, "GET", "/healthz", {})  # noqa: E731
    await waves(app, 200, args.concurrency, message)  # warm: caches, first batches
    for name, request, count in (("GET /healthz", health, args.commands),
                                 ("POST messages", message, args.commands)):
        profile = cProfile.Profile() if args.profile and name == "POST messages" else None
        await caught_up(app)
        if pg:
            pg.start()
        cpu, wall = time.process_time(), time.perf_counter()
        if profile:
            profile.enable()
        statuses = await waves(app, count, args.concurrency, request)
        await caught_up(app)
        if profile:
            profile.disable()
            profile.dump_stats(args.profile)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        bad = sum(1 for s in statuses if s >= 300)
        print(f"{name}: {count} in {wall:.2f} s ({count / wall:,.0f}/s), "
              f"CPU {cpu * 1000 / count:.3f} ms each, {bad} not 2xx" + (pg.report(count) if pg else ""))


class PostgresCost:
    """The private PostgreSQL's CPU (postmaster and backends) and statements over a phase."""

    def __init__(self, server: PostgresServer):
        self.server, self.statements = server, StatementCount(server.dsn())
        self.pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        self.cpu = 0.0

    def start(self) -> None:
        self.statements.reset()
        self.cpu = cpu_seconds(self.pid)

    def report(self, count: int) -> str:
        cpu = cpu_seconds(self.pid) - self.cpu
        databases, top = self.statements.per_command(count, "dispute", top=12)
        lines = "".join(f"\n    {n:7.3f}  {query}" for n, query in top)
        return (f"; PostgreSQL CPU {cpu * 1000 / count:.3f} ms, "
                f"{databases.get('dispute', 0):.2f} statements each{lines}")


async def run(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="http-cpu-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    server = PostgresServer(folder / "pg", durable=True, options=OPTIONS) if args.postgres else None
    try:
        url = f"sqlite:///{folder}/dispute.sqlite"
        if server:
            url = server.start().create_database("dispute")
            os.environ["PLATFORM_LOCAL_MODE"] = "true"  # a private server: the dev token secret is fine
        settings = DisputeSettings(database_url=url, jwt_secret=DEV_SECRET,
                                   evidence_dir=str(folder / "evidence"), run_workers=args.workers,
                                   rate_limit_per_second=1e6, rate_limit_burst=1_000_000)
        app = create_app(settings, run_consumers=False, run_workers=args.workers)
        async with app.router.lifespan_context(app):
            await measure(app, args, PostgresCost(server) if server else None)
    finally:
        if server:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_cpu")
    parser.add_argument("--commands", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--disputes", type=int, default=100)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--postgres", action="store_true", help="the store on a private durable PostgreSQL")
    parser.add_argument("--workers", action="store_true", help="run the projections and workers too")
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
