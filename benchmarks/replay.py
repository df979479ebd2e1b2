"""Replay: projection rebuild, audit export and verify over a large store, beside a raw scan.

    make bench-replay                      # 100k then 1M events, own durable PostgreSQL
    .venv/bin/python -m benchmarks.replay --quick        # 10k then 50k events
    measure(pg_url, quick) -> {"rows": [...]}   # what `make bench` calls

The store is filled fast but with real events: a few disputes are driven through the
DisputeApplication (real commands, real aggregates, the mapper's keyed hash chain), then each
template is copied under many new dispute ids, every copy re-chained under the audit key (the
chain covers the dispute id) so `audit verify` passes, and COPY'd into the recorder's table.
Copies are interleaved in groups (the first event of 2,000 disputes, then their second,
...), as a live marketplace's history is: a batch of the store touches many disputes, none
from its first event to its last.

Each step runs as the real CLI in its own process (`services.dispute.entrypoints.cli
projections rebuild NAME` / `audit export -o /dev/null` / `audit verify --checkpoints none`),
forked from a server that imported the CLI's modules once (benchmarks/cli_zygote.py: make
bench-quick paid nine Python start-ups of ~1.4 CPU s each), and its peak RSS is that process's
own high-water mark (VmHWM, written by the child at exit, the imported pages counted).
Its rate is the CLI's own figure (the rebuild's "N events in Xs", the progress line's final
ev/s), so Python start-up is left out; beside it, events per CPU second of the process (its
CPU less a start-up's), which a busy shared machine changes far less than the wall. The baseline is a raw scan of the same table in the same run: a psycopg server-side
cursor reading every row. "Flat memory" is the peak RSS at the larger size against the one at
the smaller (the store grows in place between the two).

PostgreSQL runs durable (fsync on, as in production), in a database of its own
(`bench_replay`, dropped afterwards: a million events take ~1 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse, urlunparse
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cli_zygote import CliForks  # noqa: E402  (after the path: `python benchmarks/replay.py`)

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 50_000)  # make bench-replay QUICK=1
BENCH_QUICK_SIZES = (5_000, 20_000)  # the replay phase of make bench-quick (whole run < 2 minutes)
TARGET_RATE = 50_000.0
FLAT = 1.2  # the larger size's peak RSS may be at most this times the smaller size's
INTERLEAVE = 2000  # disputes whose events are interleaved in the store
DATABASE = "bench_replay"
STEPS = (
    ("rebuild dispute_index", ["projections", "rebuild", "dispute_index", "--grace", "0"]),
    ("rebuild timeline", ["projections", "rebuild", "timeline_entries", "--grace", "0"]),
    ("audit export", ["audit", "export", "--output", os.devnull]),
    ("audit verify", ["audit", "verify", "--checkpoints", "none"]),
)
TARGETED = {"rebuild dispute_index", "rebuild timeline", "audit export"}


# templates: real disputes through the application ------------------------------------

def template_streams(app) -> list[list]:
    """The stored events of a few realistic disputes, through the real application."""
    from services.dispute.adapters.event_store import command_context
    from services.dispute.adapters.order_book import OrderBook
    from services.dispute.domain import Actor, Role
    from tests.support.orders import NOW, order_placed

    buyer, seller = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")
    day, later = NOW + timedelta(days=1), NOW + timedelta(days=4)

    def opened(order_id: str, reason: str, description: str):
        with command_context(str(uuid4())):  # as the HTTP API stores them: with a correlation id
            return app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=order_id)),
                                    item_id="I-1", actor=buyer, reason=reason, request="FULL_REFUND",
                                    request_amount=None, description=description, at=NOW)

    def command(dispute_id: UUID, at, change: Callable[[Any], Any]) -> None:
        with command_context(str(uuid4())):
            app.execute(dispute_id, at, change)

    negotiated = opened("O-template-1", "DAMAGED", "arrived cracked")
    command(negotiated.id, day, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=seller,
        at=day, policy=app.policy))
    command(negotiated.id, day, lambda d: d.reject_offer(
        offer_id="OF-1", reason="too little", actor=buyer, at=day, policy=app.policy))
    command(negotiated.id, day, lambda d: d.post_message(
        message_id="M-1", text="see photos", actor=buyer, at=day))

    escalated = opened("O-template-2", "NOT_AS_DESCRIBED", "wrong colour")
    command(escalated.id, day, lambda d: d.post_message(
        message_id="M-1", text="it is the colour shown", actor=seller, at=day))
    command(escalated.id, later, lambda d: d.escalate(note="no agreement", actor=buyer, at=later))
    return [list(app.recorder.select_events(d.id)) for d in (negotiated, escalated)]


def rechained(app, template: list, new_id: UUID) -> list[bytes]:
    """The template's stored states for another dispute id, hashed as the mapper would."""
    from services.dispute.adapters.audit_chain import GENESIS, chain_message
    from services.dispute.adapters.event_store import META_KEY

    states, previous = [], GENESIS
    for event in template:
        state, meta = app.mapper.decoded(event)
        meta.pop("hash", None)
        previous = app.chain_keys.sign(chain_message(previous, event.topic, new_id,
                                                     event.originator_version, state, meta))
        states.append(app.mapper._encode({**state, META_KEY: {**meta, "hash": previous}}))
    return states


def fill(app, url: str, templates: list[list], count: int) -> int:
    """COPY about `count` more events (whole disputes), interleaved INTERLEAVE disputes at a time."""
    import psycopg

    columns = "originator_id, originator_version, topic, state"
    written = 0
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY disputes_events ({columns}) FROM STDIN") as copy:
            while written < count:
                group = []
                for n in range(INTERLEAVE):
                    template, new_id = templates[n % len(templates)], uuid4()
                    group.append((new_id, template, rechained(app, template, new_id)))
                    written += len(template)
                    if written >= count:
                        break
                for index in range(max(len(t) for _, t, _ in group)):
                    for new_id, template, states in group:
                        if index < len(template):
                            event = template[index]
                            copy.write_row((new_id, event.originator_version, event.topic, states[index]))
    return written


# measurements ------------------------------------------------------------------------

def raw_scan(url: str) -> tuple[int, float]:
    """(rows, seconds) of reading every row of the events table through a server-side cursor."""
    import psycopg

    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor(name="replay_scan") as cursor:
            cursor.itersize = 5000
            cursor.execute("SELECT notification_id, originator_id, originator_version, topic, state "
                           "FROM disputes_events ORDER BY notification_id")
            rows = sum(1 for _ in cursor)
        return rows, time.perf_counter() - started


def run_cli(forks: CliForks, args: list[str]) -> dict:
    """Run disputectl in its own process (forked from the fork server: benchmarks/cli_zygote.py);
    its output, wall time, peak RSS (VmHWM, MB) and CPU seconds."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        code, stdout, stderr, hwm = forks.run(args, Path(folder))
        wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"disputectl {' '.join(args)} exited {code}: {stderr[-2000:]}")
    kb, cpu = hwm.split()
    return {"stdout": stdout, "stderr": stderr, "wall": wall, "peak_rss_mb": int(kb) / 1024, "cpu": float(cpu)}


def cli_rate(result: dict) -> tuple[int, float]:
    """(events, events/s) as the CLI itself reports them (start-up excluded)."""
    rebuilt = re.search(r"([\d,]+) events in ([\d.]+)s", result["stdout"])
    if rebuilt:
        events, seconds = int(rebuilt[1].replace(",", "")), float(rebuilt[2])
        return events, events / seconds if seconds else float("inf")
    progress = re.findall(r"([\d,]+)/[\d,]+ events\s+([\d,]+) ev/s", result["stderr"])
    if not progress:
        raise RuntimeError(f"no rate in the CLI's output: {result['stderr'][-500:]}")
    events, rate = progress[-1]
    return int(events.replace(",", "")), float(rate.replace(",", ""))


def row(name: str, value: float, unit: str, baseline_name: str, baseline: float,
        target: str | None = None, met: bool | None = None) -> dict:
    return {"name": name, "value": round(value, 1), "unit": unit, "baseline_name": baseline_name,
            "baseline": round(baseline, 1), "ratio": round(value / baseline, 3) if baseline else 0.0,
            "target": target, "met": met}


def measure_size(url: str, forks: CliForks, stored: int, start_up: float) -> tuple[list[dict], dict[str, float]]:
    """Rows of every step at the current size, and each step's peak RSS; `start_up`: the CPU
    seconds of a CLI process that does nothing much (`projections status`)."""
    rows_read, seconds = raw_scan(url)
    scan = rows_read / seconds
    label = f"{stored:,} events"
    rows = [row(f"raw SELECT scan ({label})", scan, "events/s", "raw SELECT scan", scan)]
    peaks: dict[str, float] = {}
    for step, args in STEPS:
        result = run_cli(forks, args)
        events, rate = cli_rate(result)
        if events != stored:
            raise RuntimeError(f"{step} read {events:,} events of {stored:,}")
        wanted = step in TARGETED
        rows.append(row(f"{step} ({label})", rate, "events/s", f"raw SELECT scan ({label})", scan,
                        f">= {TARGET_RATE:,.0f} events/s" if wanted else None,
                        rate >= TARGET_RATE if wanted else None))
        # the CLI's own CPU, less a start-up's (`projections status`): what a busy machine
        # (these are shared) does not change much, unlike events/s
        per_cpu = events / max(result["cpu"] - start_up, 1e-3)
        rows.append(row(f"{step} ({label}), per CPU second", per_cpu, "events/CPU-s",
                        f"raw SELECT scan ({label})", scan))
        peaks[step] = result["peak_rss_mb"]
        print(f"  {step:<24} {rate:>10,.0f} events/s  {per_cpu:>10,.0f} events/CPU-s  peak RSS "
              f"{result['peak_rss_mb']:6.1f} MB  (raw scan {scan:,.0f}/s, ratio {rate / scan:.3f})",
              flush=True)
    return rows, peaks


def memory_rows(small: int, large: int, at_small: dict[str, float], at_large: dict[str, float]) -> list[dict]:
    rows = []
    for step, _ in STEPS:
        wanted = step in TARGETED
        flat = at_large[step] <= FLAT * at_small[step]
        rows.append(row(f"{step} peak RSS ({large:,} events)", at_large[step], "MB",
                        f"{step} peak RSS ({small:,} events)", at_small[step],
                        f"flat: <= {FLAT} x at {small:,}" if wanted else None, flat if wanted else None))
    return rows


def run(url: str, sizes: tuple[int, int], say: Callable[[str], None] = print) -> list[dict]:
    from services.common.database import sqlalchemy_engine
    from services.dispute.bootstrap import build_application
    from services.dispute.projections.rebuild import PROJECTIONS
    from services.dispute.settings import DisputeSettings

    app = build_application(DisputeSettings(database_url=url))
    engine = sqlalchemy_engine(url)
    for kind in PROJECTIONS.values():
        kind(app, engine).create_tables()
    engine.dispose()
    templates, rows, peaks = template_streams(app), [], []
    stored = app.recorder.max_notification_id() or 0
    with CliForks({**os.environ, "DISPUTE_DATABASE_URL": url, "DISPUTE_LOG_LEVEL": "WARNING"}) as forks:
        start_up = run_cli(forks, ["projections", "status"])["cpu"]  # once: it does not grow with the store
        for size in sizes:
            started = time.perf_counter()
            fill(app, url, templates, size - stored)
            stored = app.recorder.max_notification_id() or 0
            say(f"replay: {stored:,} events in the store (filled in {time.perf_counter() - started:.0f}s)")
            size_rows, size_peaks = measure_size(url, forks, stored, start_up)
            rows += size_rows
            peaks.append((stored, size_peaks))
    (small, at_small), (large, at_large) = peaks
    return rows + memory_rows(small, large, at_small, at_large)


# entry points -------------------------------------------------------------------------

def own_database(pg_url: str) -> str:
    """A fresh `bench_replay` database on the server of `pg_url`."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return urlunparse(urlparse(pg_url)._replace(path=f"/{DATABASE}"))


def drop_database(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def measure(pg_url: str, quick: bool, sizes: tuple[int, int] | None = None) -> dict:
    """For `make bench`: {"rows": [...]}, each step's events/s beside the raw scan of the same
    run, then each step's peak RSS at the larger size beside the one at the smaller."""
    sizes = sizes or (BENCH_QUICK_SIZES if quick else FULL_SIZES)
    # the database is made and dropped from the server's maintenance database: `pg_url` may
    # name the very database to be replaced (make bench hands over a fresh one)
    server = urlunparse(urlparse(pg_url)._replace(path="/postgres"))
    url = own_database(server)
    try:
        return {"sizes": list(sizes), "rows": run(url, sizes)}
    finally:
        drop_database(server)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SIZES} events instead of {FULL_SIZES}")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    from infra.postgres import PostgresServer

    folder = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    server = PostgresServer(folder / "pg", durable=True).start()
    try:
        rows = measure(server.dsn(), args.quick, QUICK_SIZES if args.quick else FULL_SIZES)["rows"]
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{'measure':<48} {'value':>12} {'baseline':>12} {'ratio':>7}  target")
    for r in rows:
        verdict = "" if r["met"] is None else ("met" if r["met"] else "NOT met")
        print(f"{r['name']:<48} {r['value']:>12,.1f} {r['baseline']:>12,.1f} {r['ratio']:>7.3f}  "
              f"{r['target'] or ''} {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
