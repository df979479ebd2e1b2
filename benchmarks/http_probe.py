"""One quick look at the HTTP command path, for a change to it: the system as `make bench`
starts it, then `GET /healthz` and POST messages at the given rates, each with the API
process's CPU per request (idle subtracted); optionally a py-spy profile of the API process
during the first command rate (py-spy is not a project dependency: `pip install py-spy`).

    .venv/bin/python -m benchmarks.http_probe --rates 200,500 [--profile out.txt]

No results file: the figures are printed, to be compared with `/healthz` of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks import pg_statements, vegeta
from benchmarks.bench import OUT, QUICK, Bench, fmt, progress, run_rate
from benchmarks.system import start_system
from benchmarks.watch import KafkaWatch
from benchmarks.workload import cases, message_targets, publish_orders
from contracts.topics import DISPUTES_EVENTS


def profiled(pid: int, seconds: int, out: Path) -> subprocess.Popen:
    """py-spy sampling `pid` for `seconds`, as raw stacks: only the thread holding the GIL
    (CPU in Python; without `--gil` a thread waiting on a socket is sampled too)."""
    py_spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(py_spy), "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "--gil",
                             "-f", "raw", "-o", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_probe")
    parser.add_argument("--rates", default="200,500")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--disputes", type=int, default=100)
    parser.add_argument("--profile", type=Path, help="py-spy raw stacks of the first command rate")
    parser.add_argument("--statements", action="store_true",
                        help="PostgreSQL statements per command (pg_stat_statements), settle included")
    args = parser.parse_args(argv)
    rates = tuple(int(r) for r in args.rates.split(","))
    sizes = replace(QUICK, rates=rates, command_seconds=args.seconds, health_seconds=2,
                    disputes=args.disputes)
    vegeta.vegeta_binary()
    talkers = cases("msg", sizes.disputes, sellers=max(1, sizes.disputes // 4))
    orders: dict[str, tuple[int, int]] = {}
    system = start_system(OUT / "probe", lambda kafka: orders.update(asyncio.run(
        publish_orders(kafka.connection("orders"), talkers))),
        pg_options=pg_statements.OPTIONS if args.statements else ())
    watch = KafkaWatch(system.kafka.admin, [DISPUTES_EVENTS])
    try:
        watch.start()
        bench = Bench(system, sizes, watch)
        talkers, _ = bench.open_disputes(talkers, [], orders)
        bench.api_idle_cpu()
        bench.health()
        counted = pg_statements.StatementCount(system.pg.dsn()) if args.statements else None
        for n, rate in enumerate(rates):
            spy = None
            if counted:
                bench.settle(f"before @{rate}/s")
                counted.reset()
            machine = bench.cpu_split()
            if args.profile and n == 0:
                spy = profiled(system.service_pids()["dispute-api"], args.seconds, args.profile)
            (result, _), cpu = bench.api_cpu_ms(lambda: run_rate(f"probe-{rate}", message_targets(
                system.api, talkers, rate * args.seconds, f"p{rate}-{time.time_ns()}"), rate,
                args.seconds, bench.work))
            if spy:
                spy.wait(30)
            progress(f"POST messages @{rate:,}/s: {fmt(result)}; API CPU {cpu:.2f} ms/command")
            bench.settle(f"probe @{rate}/s")
            progress("  CPU ms per command, with the settle: " + ", ".join(
                f"{name} {ms:.2f}" for name, ms in sorted(
                    machine.per_request(result.requests - result.errors).items(), key=lambda kv: -kv[1])))
            if counted:
                _print_statements(counted, result.requests - result.errors)
    finally:
        watch.stop()
        system.stop()
    return 0


def _print_statements(counted: pg_statements.StatementCount, answered: int) -> None:
    databases, queries = counted.per_command(answered, "bench_dispute")
    progress("  PostgreSQL statements per command, with the settle: " + ", ".join(
        f"{name} {n:.2f}" for name, n in databases.items()))
    for n, query in queries:
        progress(f"    {n:7.3f}  {query}")


if __name__ == "__main__":
    sys.exit(main())
