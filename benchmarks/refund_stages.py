"""Where the end-to-end time goes between a seller's accept-claim and its `RefundIssued`,
stage by stage, on the system as `make bench` runs it (the same start, orders, disputes and
end-to-end phase: benchmarks/bench.py), with the refund service's CPU per refund.

    .venv/bin/python -m benchmarks.refund_stages [--rate 200] [--seconds 1] [--profile FILE] [--statements]

Per dispute, from clocks of one machine: the answer (vegeta), the `Resolved` event's own time
(set by the command before its commit), its record's Kafka timestamp (the relay's send), the
refund service's `accepted` log line (fetched, its lane's turn, trust check, PENDING stored), the
provider's ledger row (`created_at`: the simulator's insert), the `refund_issued` log line
(the answer recorded) and the `RefundIssued` record's Kafka timestamp (the send). Printed as
p50/p99 per stage; written to bench/refund-stages.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import psycopg

from benchmarks import pg_statements, vegeta
from benchmarks.bench import OUT, QUICK, Bench, progress
from benchmarks.memory import cpu_seconds
from benchmarks.report import percentile
from benchmarks.system import start_system
from benchmarks.watch import KafkaWatch
from benchmarks.workload import cases, dispute_of, publish_orders
from contracts.topics import DISPUTES_EVENTS, REFUNDS_EVENTS

STAGES = ("answered", "resolved_at", "resolved_on_kafka", "accepted", "provider_row", "issued_logged",
          "issued_on_kafka")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def refund_log_marks(log: Path) -> dict[str, dict[str, float]]:
    """dispute id -> {"accepted": t, "issued_logged": t} from the refund service's JSON lines."""
    marks: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == "accepted" and entry.get("event_type") == "Resolved":
            marks.setdefault(entry["dispute_id"], {})["accepted"] = _epoch(entry["timestamp"])
        elif entry.get("event") == "refund_issued":
            marks.setdefault(entry["dispute_id"], {})["issued_logged"] = _epoch(entry["timestamp"])
    return marks


def provider_rows(dsn: str) -> dict[str, float]:
    """dispute id -> when the simulator inserted its refund."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT metadata, created_at FROM paysim_refunds").fetchall()
    return {json.loads(metadata)["dispute_id"]: created.timestamp() for metadata, created in rows}


def stage_table(marks: dict[str, dict[str, float]]) -> dict[str, dict]:
    spans = {}
    for start, end in zip(STAGES, STAGES[1:]):
        ms = [(m[end] - m[start]) * 1000 for m in marks.values() if start in m and end in m]
        spans[f"{start} -> {end}"] = ms
    spans["answered -> issued_on_kafka"] = [(m["issued_on_kafka"] - m["answered"]) * 1000
                                            for m in marks.values() if "answered" in m and "issued_on_kafka" in m]
    spans["resolved_on_kafka -> issued_on_kafka"] = [
        (m["issued_on_kafka"] - m["resolved_on_kafka"]) * 1000
        for m in marks.values() if "resolved_on_kafka" in m and "issued_on_kafka" in m]
    return {name: {"p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99), "count": len(ms)}
            for name, ms in spans.items()}


def py_spy() -> str | None:
    """py-spy beside this Python, else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profiler(pid: int, out: Path, spy: str) -> subprocess.Popen:
    return subprocess.Popen([spy, "record", "-p", str(pid), "-f", "raw", "-o", str(out),
                             "-r", "400", "--nonblocking", "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.refund_stages")
    parser.add_argument("--rate", type=int, default=QUICK.e2e_rate)
    parser.add_argument("--seconds", type=int, default=QUICK.e2e_seconds)
    parser.add_argument("--profile", type=Path, help="py-spy (if installed) samples the refund service "
                        "during the end-to-end phase into this file (collapsed stacks)")
    parser.add_argument("--statements", action="store_true", help="PostgreSQL's statements per refund "
                        "during the end-to-end phase, by database, and the ones taking most of its time "
                        "(pg_stat_statements, preloaded on the run's own server)")
    args = parser.parse_args(argv)
    spy_path = py_spy() if args.profile else None
    if args.profile and spy_path is None:
        parser.error("--profile needs py-spy, in this virtualenv or on PATH (pip install py-spy)")
    sizes = replace(QUICK, e2e_rate=args.rate, e2e_seconds=args.seconds)
    refunded = cases("e2e", sizes.e2e_rate * sizes.e2e_seconds, sellers=max(1, sizes.e2e_rate // 2))
    orders: dict[str, tuple[int, int]] = {}
    system = start_system(OUT / "stages", lambda kafka: orders.update(asyncio.run(
        publish_orders(kafka.connection("orders"), refunded))),
        pg_options=pg_statements.OPTIONS if args.statements else ())
    watch = KafkaWatch(system.kafka.admin, [DISPUTES_EVENTS, REFUNDS_EVENTS])
    try:
        watch.start()
        time.sleep(2)
        bench = Bench(system, sizes, watch)
        _, refunded = bench.open_disputes([], refunded, orders)
        refund_pid = system.service_pids()["refund"]
        # the stand-in for the provider shares the two cores and is on every refund's path
        provider_pid = system.service_pids()["payment-simulator"]
        counted = pg_statements.StatementCount(system.pg.dsn()) if args.statements else None
        if counted:
            counted.reset()
        spy = profiler(refund_pid, args.profile, spy_path) if spy_path else None
        provider_before = cpu_seconds(provider_pid)
        cpu_before, started = cpu_seconds(refund_pid), time.time()
        figures = bench.end_to_end(refunded)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        if counted:
            _print_statements(counted, figures["refunds_seen"])
        cpu = cpu_seconds(refund_pid) - cpu_before
        provider_cpu = cpu_seconds(provider_pid) - provider_before
        marks = refund_log_marks(system.folder / "refund.log")
        for dispute, created in provider_rows(system.env["PAYSIM_DATABASE_URL"]).items():
            marks.setdefault(dispute, {})["provider_row"] = created
        for record in watch.between(DISPUTES_EVENTS, started, time.time()):
            if record.event_type == "Resolved":
                marks.setdefault(record.dispute_id, {}).update(
                    resolved_on_kafka=record.published_at, resolved_at=record.occurred_at)
        for record in watch.between(REFUNDS_EVENTS, started, time.time()):
            if record.event_type == "RefundIssued":
                marks.setdefault(record.dispute_id, {})["issued_on_kafka"] = record.published_at
        for answer in vegeta.answers(bench.work / "accept-claim.results.bin"):
            if 200 <= answer.code < 300:
                marks.setdefault(dispute_of(answer.url), {})["answered"] = answer.answered_at
    finally:
        watch.stop()
        system.stop()
    stages = stage_table({d: m for d, m in marks.items() if "resolved_on_kafka" in m})
    refunds = figures["refunds_seen"]
    out = {"end_to_end": {k: figures[k] for k in ("p50_ms", "p99_ms", "accepted", "refunds_seen")},
           "accept_claim_http": {k: figures["http"][k] for k in ("achieved", "p50_ms", "p99_ms")},
           "stages": stages, "refund_cpu_ms_per_refund": cpu * 1000 / max(1, refunds),
           "provider_standin_cpu_ms_per_refund": provider_cpu * 1000 / max(1, refunds)}
    (OUT / "refund-stages.json").write_text(json.dumps(out, indent=2))
    for name, span in stages.items():
        progress(f"{name:45s} p50 {span['p50_ms'] or 0:7.0f} ms  p99 {span['p99_ms'] or 0:7.0f} ms  (n {span['count']})")
    progress(f"refund service CPU: {out['refund_cpu_ms_per_refund']:.1f} ms per refund "
             f"(the provider stand-in: {out['provider_standin_cpu_ms_per_refund']:.1f} ms); "
             f"e2e p50 {figures['p50_ms'] or 0:.0f} / p99 {figures['p99_ms'] or 0:.0f} ms beside accept-claim HTTP "
             f"p50 {figures['http']['p50_ms']:.0f} / p99 {figures['http']['p99_ms']:.0f} ms")
    return 0


def _print_statements(counted: pg_statements.StatementCount, refunds: int) -> None:
    databases, slowest = counted.by_time(refunds)
    progress("PostgreSQL statements per refund issued: " + ", ".join(
        f"{name} {n:.2f}" for name, n in databases.items()))
    progress("the statements taking most of PostgreSQL's time (calls and ms per refund, database):")
    for calls, ms, database, query in slowest:
        progress(f"  {calls:6.2f} {ms:7.3f} ms  {database:16s} {query}")


if __name__ == "__main__":
    raise SystemExit(main())
