"""Where the dispute API's memory goes under the HTTP phase's load: the system as `make bench`
starts it, then `GET /healthz` and POST messages at the given offered rates (no stop at a
saturated rate), the API process sampled every 20 ms meanwhile (VmRSS, VmHWM, open file
descriptors: one per connection, and smaps_rollup's anonymous memory).

    .venv/bin/python -m benchmarks.api_memory [--rates 200,500,1000,2000] [--health-rates ...]
        [--idle-connections 2000] [--burst 2000] [--env DISPUTE_HTTP_MAX_CONNECTIONS=0]

Prints one line per phase: the largest RSS and file descriptor count (the connections) seen
during it, and VmHWM after it (the peak `make bench` reports); --idle-connections first holds
that many keep-alive connections open and prints what each costs; --burst sends that many
commands at once, each on its own connection, into a stopped API (an overload that does not
depend on the machine's load); --env restarts the API with
more settings (old and new back to back without a second checkout). Not under tracemalloc:
tracing the imports took minutes, tracing the load slowed the API sixfold, so the overload it
should show never formed, and its snapshots under load grew the process by gigabytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmarks import vegeta
from benchmarks.bench import OUT, QUICK, Bench, fmt, progress, run_rate
from benchmarks.memory import status_kb
from benchmarks.system import start_system, wait_ready
from benchmarks.watch import KafkaWatch
from benchmarks.workload import cases, health_targets, message_targets, publish_orders
from contracts.topics import DISPUTES_EVENTS

@dataclass
class Sampler:
    """The API process every `interval` seconds, in a thread: its largest VmRSS and file
    descriptor count since the last `phase()`."""

    pid: int
    interval: float = 0.02
    max_rss_mb: float = 0.0
    max_fds: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                rss = status_kb(Path(f"/proc/{self.pid}/status").read_text(), "VmRSS") / 1024
                fds = len(os.listdir(f"/proc/{self.pid}/fd"))
            except OSError:
                return
            self.max_rss_mb, self.max_fds = max(self.max_rss_mb, rss), max(self.max_fds, fds)

    def phase(self) -> tuple[float, int]:
        seen = (self.max_rss_mb, self.max_fds)
        self.max_rss_mb, self.max_fds = 0.0, 0
        return seen


def memory_line(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return (f"VmRSS {status_kb(status, 'VmRSS') / 1024:.1f} MB, VmHWM {status_kb(status, 'VmHWM') / 1024:.1f} MB, "
            f"anonymous {status_kb(rollup, 'Anonymous') / 1024:.1f} MB, threads {status_kb(status, 'Threads')}")


async def hold_connections(port: int, count: int, pid: int) -> str:
    """`count` keep-alive connections, each after one `GET /healthz`, held open while the RSS
    is read: what an idle connection costs the API (uvicorn's protocol, transport, parser)."""
    before = status_kb(Path(f"/proc/{pid}/status").read_text(), "VmRSS")
    held = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        held.append(writer)
    await asyncio.sleep(0.5)
    after = status_kb(Path(f"/proc/{pid}/status").read_text(), "VmRSS")
    for writer in held:
        writer.close()
    return f"{count} idle connections: RSS +{(after - before) / 1024:.1f} MB ({(after - before) / count:.1f} kB each)"


async def burst(port: int, targets: list, pid: int) -> str:
    """An overload the machine's load cannot blur: the API stopped (SIGSTOP), one connection
    per command opened and its request sent (the kernel queues them: uvicorn's backlog is
    2048), then the API continued: its peak RSS over that burst and the answers' statuses."""
    before = status_kb(Path(f"/proc/{pid}/status").read_text(), "VmHWM")
    os.kill(pid, signal.SIGSTOP)
    try:
        streams = []
        for target in targets:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            head = "".join(f"{name}: {value}\r\n" for name, value in target.headers.items())
            writer.write(f"{target.method} {target.url.split(str(port), 1)[1]} HTTP/1.1\r\nHost: api\r\n"
                         f"{head}Content-Length: {len(target.body)}\r\n\r\n".encode() + target.body)
            streams.append((reader, writer))
    finally:
        os.kill(pid, signal.SIGCONT)

    async def status(reader: asyncio.StreamReader) -> str:
        try:
            line = await asyncio.wait_for(reader.readline(), 60)
            return line.split()[1].decode() if line else "closed"
        except (OSError, asyncio.TimeoutError, IndexError):
            return "error"

    statuses = Counter(await asyncio.gather(*(status(reader) for reader, _ in streams)))
    for _, writer in streams:
        writer.close()
    after = status_kb(Path(f"/proc/{pid}/status").read_text(), "VmHWM")
    return (f"burst of {len(targets)} commands, each on its own connection: VmHWM {before / 1024:.1f} -> "
            f"{after / 1024:.1f} MB (+{(after - before) / 1024:.1f}); answers {dict(statuses)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_memory")
    parser.add_argument("--rates", default="200,500,1000,2000")
    parser.add_argument("--health-rates", default="200,500,1000,2000")
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--disputes", type=int, default=100)
    parser.add_argument("--burst", type=int, default=0, help="then a burst of this many commands (SIGSTOP)")
    parser.add_argument("--idle-connections", type=int, default=0, help="hold this many open first")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the API process")
    args = parser.parse_args(argv)
    rates = tuple(int(r) for r in args.rates.split(",") if r)
    health_rates = tuple(int(r) for r in args.health_rates.split(",") if r)
    sizes = replace(QUICK, rates=health_rates, command_seconds=args.seconds, disputes=args.disputes)
    extra = dict(pair.split("=", 1) for pair in args.env)
    vegeta.vegeta_binary()
    talkers = cases("msg", sizes.disputes, sellers=max(1, sizes.disputes // 4))
    orders: dict[str, tuple[int, int]] = {}
    system = start_system(OUT / "memory-run", lambda kafka: orders.update(asyncio.run(
        publish_orders(kafka.connection("orders"), talkers))))
    watch = KafkaWatch(system.kafka.admin, [DISPUTES_EVENTS])
    try:
        watch.start()
        bench = Bench(system, sizes, watch)
        talkers, _ = bench.open_disputes(talkers, [], orders)
        if extra:
            system.stop_service("dispute-api")
            system.start_service("dispute-api", ["services.dispute.main", "serve"], extra)
            wait_ready(system)
        pid = system.service_pids()["dispute-api"]
        progress(f"API ready: {memory_line(pid)}")
        sampler = Sampler(pid)
        sampler.start()
        if args.idle_connections:
            progress(asyncio.run(hold_connections(system.run.dispute_port, args.idle_connections, pid)))
        if args.burst:
            progress(asyncio.run(burst(system.run.dispute_port, list(message_targets(
                system.api, talkers, args.burst, f"burst-{time.time_ns()}")), pid)))
            bench.settle("burst")
        for rate in health_rates:
            result, _ = run_rate(f"mem-healthz-{rate}", health_targets(system.api), rate, args.seconds, bench.work)
            rss, fds = sampler.phase()
            progress(f"GET /healthz @{rate:,}/s: {fmt(result)}; max RSS {rss:.1f} MB, max fds {fds}; {memory_line(pid)}")
        for rate in rates:
            result, _ = run_rate(f"mem-messages-{rate}", message_targets(
                system.api, talkers, rate * args.seconds, f"mem{rate}-{time.time_ns()}"), rate, args.seconds,
                bench.work)
            rss, fds = sampler.phase()
            progress(f"POST messages @{rate:,}/s: {fmt(result)}; max RSS {rss:.1f} MB, max fds {fds}; "
                     f"{memory_line(pid)}")
            bench.settle(f"@{rate}/s")
        sampler.stopping.set()
    finally:
        watch.stop()
        system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
