"""`make bench` / `make bench-quick`: what users feel, on the system as deployed, each figure
beside a baseline taken in the same run on the same servers (these machines are shared and
noisy: the ratios travel, the absolute figures less).

    .venv/bin/python -m benchmarks.bench [--quick]

Phases (one progress line each): start a durable PostgreSQL, Kafka (SASL + ACLs) and every
service as its own process (tools/run_local.py); idle RSS; orders and disputes; raw
PostgreSQL transactions; GET /healthz and then HTTP commands (messages) at fixed offered rates
with vegeta (open loop); end to end (a seller accepts the claim -> RefundIssued on
refunds.events); peak RSS; the relay (a second relay process republishes the whole store to a
topic of its own) beside raw aiokafka produce of the same records; replay
(benchmarks/replay.py, when present). Writes bench/results.json and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

from benchmarks import vegeta
from benchmarks.baselines import create_topics, raw_kafka_produce, raw_postgres_transactions
from benchmarks.cpu_split import CpuSplit, postmaster_pid
from benchmarks.memory import cpu_seconds, largest_process_mb
from benchmarks.report import RateResult, Row, parse_vegeta_report, percentile, table, write_results
from benchmarks.rows import cpu_rows, e2e_rows, http_rows, relay_rows, replay_module, replay_rows, rss_rows
from benchmarks.settle import (GroupProgress, KafkaProbe, consumed, emails_sent_out, settle, store_position,
                               topic_quiet, wait_for)
from benchmarks.system import System, start_system
from benchmarks.watch import KafkaWatch, topic_span
from benchmarks.workload import (Case, accept_claim_targets, cases, dispute_of, health_targets,
                                 message_targets, open_disputes, publish_orders)
from contracts.topics import DISPUTES_EVENTS, ORDERS_EVENTS, REFUNDS_EVENTS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench"
SATURATED = 0.5  # below this share of the offered rate achieved, higher rates are not tried
RELAY_TOPIC, RELAY_AUDIT_TOPIC = "bench.relay.events", "bench.relay.audit"
RAW_TOPIC = "bench.raw"
RELAY_QUIET = 3.0  # seconds without a new record on its topic: the bench relay is done


@dataclass(frozen=True)
class Sizes:
    rates: tuple[int, ...]
    command_seconds: int
    health_seconds: int
    disputes: int  # the commands are spread over this many disputes, each of its own buyer
    e2e_rate: int
    e2e_seconds: int
    pg_connections: tuple[int, ...]
    pg_seconds: float
    raw_produce_max: int
    refund_wait: float
    settle_timeout: float
    # of the settle, the longest wait for the consumers of disputes.events (the notification
    # service reads one record per transaction: behind a burst of commands it drains for
    # minutes, and quick does not wait for all of it; what was left is in results.json)
    consumers_wait: float
    # ... and none of it once their pace shows they would not be done by then (quick): that
    # wait would not settle anything, the next phase shares the cores with the drain anyway
    cut_hopeless_waits: bool
    idle_cpu_seconds: float  # the API's idle CPU is measured over this long


FULL = Sizes(rates=(200, 500, 1000, 2000), command_seconds=10, health_seconds=5, disputes=500,
             e2e_rate=200, e2e_seconds=10, pg_connections=(4, 8, 16), pg_seconds=5.0,
             raw_produce_max=200_000, refund_wait=90.0, settle_timeout=120.0, consumers_wait=120.0,
             cut_hopeless_waits=False, idle_cpu_seconds=3.0)
QUICK = Sizes(rates=(200, 500, 1000, 2000), command_seconds=2, health_seconds=1, disputes=100,
              e2e_rate=200, e2e_seconds=1, pg_connections=(8,), pg_seconds=2.0,
              raw_produce_max=30_000, refund_wait=30.0, settle_timeout=45.0, consumers_wait=10.0,
              cut_hopeless_waits=True, idle_cpu_seconds=1.5)
ORDER_BOOK_GROUP = "dispute"  # the dispute service's group on orders.events: its order book
OPEN_CONCURRENCY = 64  # disputes opened at once before the measures (the writer batches them)
RELAY_DONE_QUIET = 0.5  # seconds without a new record once the bench relay published the whole store

_start = time.monotonic()
PHASE_SECONDS: dict[str, float] = {}  # wall seconds of each phase, in results.json
PHASE_LOAD: dict[str, float] = {}  # the 1-minute load average at the end of each (a shared machine)


def progress(text: str) -> None:
    print(f"[{time.monotonic() - _start:6.1f}s] {text}", flush=True)


@contextmanager
def timed(phase: str):
    """The wall time of `phase` (added up if it runs more than once), with the load average."""
    started = time.monotonic()
    try:
        yield
    finally:
        PHASE_SECONDS[phase] = round(PHASE_SECONDS.get(phase, 0.0) + time.monotonic() - started, 1)
        PHASE_LOAD[phase] = round(os.getloadavg()[0], 1)


def fmt(result: RateResult) -> str:
    return (f"achieved {result.achieved:,.0f}/s, p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, errors {result.errors}/{result.requests}"
            + (f" {result.status_codes}" if result.errors else ""))


def run_rate(name: str, targets, rate: int, seconds: int, work: Path) -> tuple[RateResult, Path]:
    targets_file, results_file = work / f"{name}.targets.jsonl", work / f"{name}.results.bin"
    vegeta.write_targets(targets_file, targets)
    vegeta.attack(targets_file, rate, seconds, results_file)
    return parse_vegeta_report(vegeta.report(results_file), rate), results_file


def relay_latency_ms(watch: KafkaWatch, start: float, end: float, types: set[str]) -> list[float]:
    """Event time (set by the command, before its commit) -> the relay's Kafka record
    timestamp, for the events of `types` published in [start, end]."""
    return [(r.published_at - r.occurred_at) * 1000 for r in watch.between(DISPUTES_EVENTS, start, end)
            if r.event_type in types and r.occurred_at is not None]


def e2e_hops(watch: KafkaWatch, start: float, accepted: dict[str, float], issued: dict[str, float]) -> dict:
    """Where the end-to-end time goes, per dispute: the answer -> its Resolved on
    disputes.events (the writer's commit and the relay), and that record -> its RefundIssued
    on refunds.events (the refund service: reserve, provider, record, publish)."""
    resolved = {r.dispute_id: r.published_at for r in watch.between(DISPUTES_EVENTS, start, time.time())
                if r.event_type == "Resolved" and r.dispute_id in issued}
    spans = {"accept answered -> Resolved on Kafka": [(resolved[d] - accepted[d]) * 1000 for d in resolved],
             "Resolved on Kafka -> RefundIssued": [(issued[d] - resolved[d]) * 1000 for d in resolved]}
    return {hop: {"p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99), "count": len(ms)}
            for hop, ms in spans.items()}


class Bench:
    def __init__(self, system: System, sizes: Sizes, watch: KafkaWatch):
        self.system, self.sizes, self.watch = system, sizes, watch
        self.work = system.folder / "load"
        self.work.mkdir(exist_ok=True)
        self.run_id = uuid4().hex[:8]
        self.rows: list[Row] = []
        self.details: dict = {}

    # -- preparation -----------------------------------------------------------------------
    def open_disputes(self, talkers: list[Case], refunded: list[Case],
                      orders: dict[str, tuple[int, int]]) -> tuple[list[Case], list[Case]]:
        """The buyers open their disputes, each once the dispute service has read its order
        (`orders`: its last record's partition and offset) while it reads the others (retried
        on ORDER_NOT_FOUND, 429 and 503); then until the refund service has read them all too."""
        progress(f"opening {len(talkers) + len(refunded)} disputes over HTTP, each once its order is read ...")
        started = time.monotonic()
        opened = asyncio.run(self._open(talkers + refunded, orders))
        if not consumed(self.system.kafka.admin, ORDERS_EVENTS, 120):
            progress("  (the orders were not all read by the services in 120 s; going on)")
        progress(f"opened {len(opened)} disputes in {time.monotonic() - started:.1f} s (orders read by the "
                 f"services by then); settling ...")
        self.settle("opening")
        return opened[:len(talkers)], opened[len(talkers):]

    async def _open(self, all_cases: list[Case], orders: dict[str, tuple[int, int]]) -> list[Case]:
        async with KafkaProbe(self.system.kafka.admin, ORDERS_EVENTS) as probe, \
                GroupProgress(probe, ORDER_BOOK_GROUP, timeout=120) as order_book:
            return await open_disputes(self.system.api, all_cases, concurrency=OPEN_CONCURRENCY,
                                       order_read=lambda case: order_book.read(*orders[case.order_id]))

    def settle(self, after: str) -> None:
        """The store, the relay and (at most sizes.consumers_wait) the consumers quiet; how it
        ended goes to results.json beside the phase that follows it."""
        sizes = self.sizes
        with timed("settle"):
            settled = settle(self.system.dispute_db, self.system.kafka.admin, sizes.settle_timeout,
                             sizes.consumers_wait, sizes.cut_hopeless_waits)
            mail_wait, unsent = emails_sent_out(self.system.env["NOTIFICATION_DATABASE_URL"], sizes.consumers_wait)
        self.details.setdefault("settles", []).append({"after": after, **asdict(settled),
                                                       "emails_wait_seconds": round(mail_wait, 2),
                                                       "emails_unsent": unsent})
        load = os.getloadavg()[0]
        mails = f"e-mails sent out in {mail_wait:.1f} s" if not unsent else f"{unsent} e-mails still unsent"
        if settled.busy:
            progress(f"  (not settled in {settled.seconds:.1f} s: {settled.busy}; {mails}; going on; load {load:.1f})")
        else:
            progress(f"  (settled in {settled.seconds:.1f} s, {mails}; load {load:.1f})")

    # -- baselines ---------------------------------------------------------------------------
    def raw_postgres(self) -> float:
        dsn = self.system.pg.create_database("bench_raw")
        rates = {}
        for connections in self.sizes.pg_connections:
            rates[connections] = raw_postgres_transactions(dsn, connections, self.sizes.pg_seconds)
            progress(f"raw PostgreSQL single-row transactions, {connections} connections: {rates[connections]:,.0f}/s")
        self.details["raw_postgres_tps"] = rates
        best = max(rates, key=rates.__getitem__)
        self.pg_best = (rates[best], best)
        return rates[best]

    def api_idle_cpu(self) -> float:
        """The API processes' CPU seconds per second with no request (consumers, projections,
        lag polls): subtracted from each phase's CPU, so that a figure is what answers cost."""
        pid = self.system.service_pids()["dispute-api"]
        before, started = cpu_seconds(pid), time.monotonic()
        time.sleep(self.sizes.idle_cpu_seconds)
        self.idle_cpu = (cpu_seconds(pid) - before) / (time.monotonic() - started)
        self.details["api_idle_cpu_per_second"] = self.idle_cpu
        progress(f"API processes idle: {self.idle_cpu * 1000:.0f} ms CPU per second")
        return self.idle_cpu

    def cpu_split(self) -> CpuSplit:
        """Starts sampling every process's CPU: where a phase's CPU went, per answered request."""
        kafka = self.system.kafka.process
        return CpuSplit({**self.system.service_pids(), "postgresql": postmaster_pid(self.system.pg.data_dir),
                         "kafka": kafka.pid if kafka else None})

    def api_cpu_ms(self, run):
        """What `run` returns ((RateResult, results file)), and the API processes' CPU
        milliseconds per answered request during it, less their idle CPU over that time."""
        pid = self.system.service_pids()["dispute-api"]
        before, started = cpu_seconds(pid), time.monotonic()
        result = run()
        spent = cpu_seconds(pid) - before - getattr(self, "idle_cpu", 0.0) * (time.monotonic() - started)
        answered = result[0].requests - result[0].errors
        return result, max(0.0, spent) * 1000 / max(1, answered)

    def health(self) -> dict[int, RateResult]:
        results, cpu = {}, {}
        for rate in self.sizes.rates:
            (results[rate], _), cpu[rate] = self.api_cpu_ms(lambda: run_rate(
                f"healthz-{rate}", health_targets(self.system.api), rate, self.sizes.health_seconds,
                self.work))
            progress(f"GET /healthz @{rate:,}/s for {self.sizes.health_seconds} s: {fmt(results[rate])}; "
                     f"API CPU {cpu[rate]:.2f} ms/request")
        self.details["healthz"] = {rate: asdict(r) for rate, r in results.items()}
        self.details["healthz_api_cpu_ms_per_request"] = self.health_cpu = cpu
        return results

    # -- HTTP commands -----------------------------------------------------------------------
    def commands(self, talkers: list[Case]) -> dict[int, RateResult | None]:
        results: dict[int, RateResult | None] = {}
        relay: dict[int, float | None] = {}
        cpu: dict[int, float] = {}
        split: dict[int, dict[str, float]] = {}
        saturated_at = None
        for rate in self.sizes.rates:
            if saturated_at is not None:
                results[rate] = None
                progress(f"commands @{rate:,}/s: skipped (saturated at {saturated_at:,}/s)")
                continue
            count = rate * self.sizes.command_seconds
            start = time.time()
            machine = self.cpu_split()
            (result, _), cpu[rate] = self.api_cpu_ms(lambda: run_rate(f"messages-{rate}", message_targets(
                self.system.api, talkers, count, f"m{rate}-{self.run_id}"), rate, self.sizes.command_seconds,
                self.work))
            self.settle(f"commands @{rate}/s")
            # after the settle: what the commands cost downstream (relay, e-mails) is theirs too
            split[rate] = machine.per_request(result.requests - result.errors)
            results[rate] = result
            relay[rate] = percentile(relay_latency_ms(self.watch, start, time.time(), {"MessagePosted"}), 0.99)
            progress(f"POST messages @{rate:,}/s for {self.sizes.command_seconds} s over {len(talkers)} disputes: "
                     f"{fmt(result)}; relay p99 {relay[rate] or 0:.0f} ms; API CPU {cpu[rate]:.2f} ms/command")
            progress("  CPU ms per command, with the settle: " + ", ".join(
                f"{name} {ms:.2f}" for name, ms in sorted(split[rate].items(), key=lambda kv: -kv[1])))
            if result.achieved < SATURATED * rate:
                saturated_at = rate
        self.details["commands"] = {rate: r and asdict(r) for rate, r in results.items()}
        self.details["relay_event_to_kafka_p99_ms_during_commands"] = relay
        self.details["commands_api_cpu_ms_per_command"] = self.commands_cpu = cpu
        self.details["commands_cpu_ms_per_command_by_process"] = split
        return results

    # -- end to end --------------------------------------------------------------------------
    def end_to_end(self, refunded: list[Case]) -> dict:
        s = self.sizes
        progress(f"end to end: {len(refunded)} sellers accept the claim at {s.e2e_rate}/s ...")
        start, machine = time.time(), self.cpu_split()
        result, results_file = run_rate("accept-claim", accept_claim_targets(
            self.system.api, refunded, f"a-{self.run_id}"), s.e2e_rate, s.e2e_seconds, self.work)
        accepted = {dispute_of(a.url): a.answered_at for a in vegeta.answers(results_file) if 200 <= a.code < 300}

        def refunds() -> dict[str, float]:
            return {r.dispute_id: r.published_at for r in self.watch.between(REFUNDS_EVENTS, start, time.time() + 1)
                    if r.event_type == "RefundIssued" and r.dispute_id in accepted}

        wait_for(lambda: len(refunds()) >= len(accepted), s.refund_wait, interval=0.5)
        issued = refunds()
        # every process's CPU per refund issued, the wait for the last included: steadier than
        # the latencies on a shared machine, and it says who the claims kept busy
        split = machine.per_request(len(issued))
        latencies = [(issued[d] - accepted[d]) * 1000 for d in issued]
        relay = relay_latency_ms(self.watch, start, time.time(), {"SellerResponded", "ClaimAccepted", "Resolved"})
        hops = e2e_hops(self.watch, start, accepted, issued)
        figures = {"http": asdict(result), "accepted": len(accepted), "refunds_seen": len(issued),
                   "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
                   "relay_event_to_kafka_p50_ms": percentile(relay, 0.5),
                   "relay_event_to_kafka_p99_ms": percentile(relay, 0.99), "hops": hops,
                   "cpu_ms_per_refund_by_process": split}
        progress(f"end to end: {len(issued)}/{len(accepted)} RefundIssued seen; accept -> RefundIssued "
                 f"p50 {figures['p50_ms'] or 0:.0f} ms, p99 {figures['p99_ms'] or 0:.0f} ms "
                 f"(accept-claim HTTP: {fmt(result)}); " + "; ".join(
                     f"{hop} p50 {v['p50_ms'] or 0:.0f} / p99 {v['p99_ms'] or 0:.0f} ms" for hop, v in hops.items()))
        progress("  CPU ms per refund issued: " + ", ".join(
            f"{name} {ms:.2f}" for name, ms in sorted(split.items(), key=lambda kv: -kv[1])))
        self.details["end_to_end"] = figures
        return figures

    # -- relay -------------------------------------------------------------------------------
    def relay(self) -> tuple[float, float, int]:
        """A second relay process, as deployed but publishing to a topic of its own, relays the
        whole store (every event of the run), with the services stopped: nothing else writes the
        store or competes for the cores. Its rate is read from the records' timestamps (first
        to last), so its start-up is not counted; it is done when its topic stopped growing."""
        stored = store_position(self.system.dispute_db)
        progress(f"relay: a second relay process republishes the whole store ({stored:,} notifications) ...")
        asyncio.run(create_topics(self.system.kafka.admin, RAW_TOPIC, RELAY_TOPIC, RELAY_AUDIT_TOPIC,
                                  partitions=self.system.kafka.partitions))
        self.system.start_service("bench-relay", ["services.dispute.main", "relay"], {
            **self.system.kafka.env("DISPUTE", "admin"), "DISPUTE_EVENTS_TOPIC": RELAY_TOPIC,
            "DISPUTE_AUDIT_TOPIC": RELAY_AUDIT_TOPIC, "DISPUTE_RELAY_METRICS_PORT": "0"})
        try:
            # done: the whole store on its topic and a moment without more; else (a store
            # whose events are not all public) no new record for RELAY_QUIET
            done = asyncio.run(topic_quiet(self.system.kafka.admin, RELAY_TOPIC, 300, quiet_for=RELAY_QUIET,
                                           expected=stored, expected_quiet_for=RELAY_DONE_QUIET))
        finally:
            self.system.stop_service("bench-relay")
        if not done:
            raise RuntimeError(f"the bench relay did not finish in 300 s; see {self.system.folder}/bench-relay.log")
        span = asyncio.run(topic_span(self.system.kafka.admin, RELAY_TOPIC))
        count = min(span.records, self.sizes.raw_produce_max)
        raw = asyncio.run(raw_kafka_produce(self.system.kafka.admin, count, span.sample_value,
                                            span.sample_headers, span.keys, RAW_TOPIC))
        progress(f"relay: {span.records:,} records in {span.last - span.first:.1f} s = {span.rate:,.0f}/s; "
                 f"raw aiokafka produce of {count:,} such records ({span.mean_value_bytes:.0f} B): {raw:,.0f}/s")
        self.details["relay"] = {"records": span.records, "seconds": span.last - span.first, "rate": span.rate,
                                 "mean_value_bytes": span.mean_value_bytes, "raw_produce_records": count,
                                 "raw_produce_rate": raw}
        return span.rate, raw, span.records

    # -- replay (h-replay's benchmarks/replay.py) ----------------------------------------------
    def replay(self, quick: bool) -> list[Row]:
        progress("replay: benchmarks.replay.measure ..." if replay_module() else
                 "replay: benchmarks/replay.py not there yet (not measured)")
        rows, measured = replay_rows(lambda: self.system.pg.create_database("bench_replay"), quick, progress)
        if measured is not None:
            self.details["replay"] = measured
        return rows


def memory(system: System, names: list[str], field: str) -> dict[str, float]:
    """Per service, its largest process (the dispute API may be several)."""
    return {name: largest_process_mb(pid, field) for name, pid in system.service_pids().items() if name in names}


def machine() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"machine": platform.node(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git("rev-parse", "HEAD"), "git_dirty": bool(git("status", "--porcelain")),
            "load_average_at_start": os.getloadavg(), "python": platform.python_version(),
            "load_generator": f"vegeta {vegeta.VERSION}"}


PHASES = ("http", "e2e", "relay", "replay")


def phases(text: str) -> tuple[str, ...]:
    """`--only e2e,relay`: the phases to run (the disputes each needs are still opened)."""
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in PHASES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown phase(s) {unknown}; choose from {','.join(PHASES)}")
    return chosen


def attempt(phase: str, run):
    """A phase whose failure must not lose the other phases' figures: its error instead."""
    try:
        return run()
    except Exception as error:
        progress(f"{phase} failed: {error!r}")
        return error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same code (under 2 minutes)")
    parser.add_argument("--only", type=phases, default=PHASES,
                        help=f"comma-separated phases to run, of {','.join(PHASES)} (default: all); "
                             "RSS is always measured")
    parser.add_argument("--rates", help="offered rates of the HTTP section, comma-separated "
                        "(default 200,500,1000,2000)")
    args = parser.parse_args(argv)
    partial = tuple(args.only) != tuple(PHASES)
    sizes = QUICK if args.quick else FULL
    if args.rates:
        sizes = replace(sizes, rates=tuple(int(rate) for rate in args.rates.split(",")))
    meta = {**machine(), "mode": "quick" if args.quick else "full", "sizes": asdict(sizes),
            "phases": list(args.only)}
    vegeta.vegeta_binary()
    talkers = cases("msg", sizes.disputes if "http" in args.only else 0, sellers=max(1, sizes.disputes // 4))
    refunded = cases("e2e", sizes.e2e_rate * sizes.e2e_seconds, sellers=max(1, sizes.e2e_rate // 2))

    orders: dict[str, tuple[int, int]] = {}

    def publish(kafka) -> None:
        progress(f"Kafka is up; publishing {len(talkers) + len(refunded)} orders on orders.events "
                 "(as the order service) while the services start ...")
        orders.update(asyncio.run(publish_orders(kafka.connection("orders"), talkers + refunded)))

    progress("starting a durable PostgreSQL, Kafka (SASL + ACLs) and the services as processes ...")
    with timed("start"):
        system = start_system(OUT / "run", publish)
        watch = KafkaWatch(system.kafka.admin, [DISPUTES_EVENTS, REFUNDS_EVENTS])
    try:
        with timed("start"):
            watch.start()
        bench = Bench(system, sizes, watch)
        services = list(system.service_pids())
        idle = memory(system, services, "VmRSS")  # ready, nothing asked of them yet
        progress("idle RSS: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in idle.items()))
        with timed("open disputes"):
            talkers, refunded = bench.open_disputes(talkers, refunded, orders)
        if "http" in args.only:
            with timed("raw postgres"):
                pg_tps = bench.raw_postgres()
            with timed("api idle cpu"):
                bench.api_idle_cpu()
            with timed("healthz"):
                health = bench.health()
            with timed("commands"):
                commands = bench.commands(talkers)
        with timed("end to end"):
            e2e = attempt("end to end", lambda: bench.end_to_end(refunded)) if "e2e" in args.only \
                else RuntimeError("not run (--only)")
        peak = memory(system, services, "VmHWM")
        progress("peak RSS: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in peak.items()))
        bench.details["service_cpu_seconds"] = {name: round(cpu_seconds(pid), 1)
                                                for name, pid in system.service_pids().items()}
        with timed("stop services"):
            system.stop_services()  # the relay phase and replay have the machine to themselves
        with timed("relay"):
            relayed = attempt("relay", bench.relay) if "relay" in args.only else RuntimeError("not run (--only)")
        with timed("replay"):
            replay_rows = bench.replay(args.quick) if "replay" in args.only else []
    finally:
        watch.stop()
        with timed("stop"):
            system.stop()
    rows = [*([*http_rows(health, commands, pg_tps, bench.pg_best[1], sizes.command_seconds),
               *cpu_rows(bench.health_cpu, bench.commands_cpu)] if "http" in args.only else []),
            *relay_rows(relayed, e2e, sizes.e2e_rate), *e2e_rows(e2e, sizes.e2e_rate),
            *replay_rows, *rss_rows(idle, peak)]
    meta["load_average_at_end"] = os.getloadavg()
    # a partial run (--only) does not overwrite the whole run's results
    results_name = f"results-{'-'.join(args.only)}.json" if partial else "results.json"
    meta["run_seconds"] = round(time.monotonic() - _start, 1)  # make bench-quick: under 2 minutes
    meta["phase_seconds"] = PHASE_SECONDS  # "settle" is also inside the phases it follows
    meta["phase_load_average"] = PHASE_LOAD
    write_results(OUT / results_name, meta, rows, {**bench.details, "rss_idle_mb": idle, "rss_peak_mb": peak})
    print(f"\n{meta['mode']} run, {meta['date']}, {meta['cores']} cores ({meta['cpu']}), "
          f"commit {meta['git_commit'][:10]}{' (dirty)' if meta['git_dirty'] else ''}; load average "
          f"{meta['load_average_at_start'][0]:.1f} at start, {meta['load_average_at_end'][0]:.1f} at the end\n")
    print(table(rows))
    print("\nphases (wall, load average at the end): " + ", ".join(
        f"{name} {seconds:.1f} s ({PHASE_LOAD[name]:.1f})" for name, seconds in PHASE_SECONDS.items()))
    print(f"\nwritten: {OUT / results_name} (logs of the run: "
          f"{system.folder}); the whole run took {time.monotonic() - _start:.0f} s")
    return 0


def _interrupt(*_) -> None:
    raise KeyboardInterrupt  # so that `finally` stops every process the run started


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
