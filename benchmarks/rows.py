"""The table's rows for each phase of benchmarks/bench.py, from its measurements (pure)."""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Callable

from benchmarks.report import RateResult, Row, highest_rate_held, not_measured, row_from_dict

RSS_LIMIT_MB = 150.0
E2E_LIMIT_MS = 250.0
RELAY_SHARE = 0.5


def http_rows(health: dict[int, RateResult], commands: dict[int, RateResult | None],
              pg_tps: float, pg_connections: int, seconds: int) -> list[Row]:
    rows = []
    for rate, result in commands.items():
        base = health[rate]
        name = f"HTTP commands @{rate:,}/s ({seconds} s)"
        if result is None:
            rows.append(not_measured(name, "skipped: a lower rate saturated", "<= 50 ms"))
            continue
        rows += [Row(f"{name}: achieved", result.achieved, "/s", base.achieved, f"GET /healthz @{rate:,}/s"),
                 Row(f"{name}: p99 (p50 {result.p50_ms:.1f}, p95 {result.p95_ms:.1f} ms)", result.p99_ms, "ms",
                     base.p99_ms, "GET /healthz p99", "<= 50 ms", result.p99_ms <= 50),
                 Row(f"{name}: errors (non-2xx, timeouts)", result.errors, "", base.errors,
                     "GET /healthz", "0", result.errors == 0)]
    measured = [r for r in commands.values() if r is not None]
    held, ceiling = highest_rate_held(measured), highest_rate_held(health.values())
    held_row = Row("HTTP commands: highest offered rate held (p99 <= 50 ms, no error)", held, "/s",
                   ceiling, "GET /healthz, same rule", ">= 1,000/s", held is not None and held >= 1000)
    if held is None:
        held_row = Row(held_row.figure, None, "/s", ceiling, held_row.baseline_of, held_row.target, False,
                       "none of the rates")
    best = max((r.achieved for r in measured), default=None)
    return rows + [held_row, Row("HTTP commands: best achieved rate (any rate)", best, "/s", pg_tps,
                                 f"raw PostgreSQL 1-row tx, {pg_connections} conns")]


def rss_rows(idle: dict[str, float], peak: dict[str, float]) -> list[Row]:
    return [Row(f"RSS {name}: peak under load", peak[name], "MB", idle.get(name), "idle after start",
                f"<= {RSS_LIMIT_MB:.0f} MB", peak[name] <= RSS_LIMIT_MB) for name in sorted(peak)]


def relay_rows(relayed: tuple[float, float, int] | Exception, e2e: dict | Exception, rate: int) -> list[Row]:
    relay_figure, latency_figure = "relay: store -> Kafka, whole store", f"relay: event time -> on Kafka, p99 @{rate}/s"
    rows = []
    if isinstance(relayed, Exception):
        rows.append(not_measured(relay_figure, repr(relayed)[:100], f">= {RELAY_SHARE} x raw produce"))
    else:
        relay_rate, raw_rate, count = relayed
        rows.append(Row(f"{relay_figure} ({count:,} events)", relay_rate, "/s", raw_rate,
                        "raw aiokafka produce, same records", f">= {RELAY_SHARE} x raw produce",
                        raw_rate > 0 and relay_rate / raw_rate >= RELAY_SHARE))
    if isinstance(e2e, Exception):
        return rows + [not_measured(latency_figure, repr(e2e)[:100])]
    return rows + [Row(f"{latency_figure} accept-claim", e2e["relay_event_to_kafka_p99_ms"], "ms",
                       e2e["relay_event_to_kafka_p50_ms"], "p50")]


def e2e_rows(e2e: dict | Exception, rate: int) -> list[Row]:
    figure = f"end to end @{rate}/s: accept-claim answered -> RefundIssued"
    if isinstance(e2e, Exception):
        return [not_measured(figure, repr(e2e)[:100], f"p99 <= {E2E_LIMIT_MS:.0f} ms")]
    http = e2e["http"]
    if not e2e["accepted"]:  # nothing to time: no claim was answered 2xx within the timeout
        why = f"no accept-claim answered 2xx ({http['errors']} errors of {http['requests']})"
        return [replace(not_measured(f"{figure}, p99", why, f"<= {E2E_LIMIT_MS:.0f} ms"), met=False)]
    return [Row(f"{figure}, p50", e2e["p50_ms"], "ms", http["p50_ms"], "accept-claim HTTP p50"),
            Row(f"{figure}, p99", e2e["p99_ms"], "ms", http["p99_ms"], "accept-claim HTTP p99",
                f"<= {E2E_LIMIT_MS:.0f} ms", e2e["p99_ms"] is not None and e2e["p99_ms"] <= E2E_LIMIT_MS),
            *stage_rows(e2e.get("hops", {})),
            *refund_cpu_rows(e2e.get("cpu_ms_per_refund_by_process", {})),
            Row("end to end: RefundIssued seen for accepted claims", e2e["refunds_seen"], "", e2e["accepted"],
                "claims accepted (2xx)", "all", e2e["refunds_seen"] == e2e["accepted"])]


def refund_cpu_rows(split: dict[str, float]) -> list[Row]:
    """The refund service's and the provider stand-in's CPU per refund issued, beside the whole
    machine's in the same span (every process the claims kept busy)."""
    if "refund" not in split or "machine" not in split:
        return []
    return [Row(f"end to end: {name} CPU per refund issued", split[name], "ms", split["machine"],
                "whole machine per refund") for name in ("refund", "payment-simulator") if name in split]


def stage_rows(hops: dict[str, dict]) -> list[Row]:
    """The end-to-end time stage by stage (benchmarks/bench.py `e2e_hops`), each stage's p99
    beside its p50: which one to cut."""
    return [Row(f"end to end, stage: {hop}, p99 (n {span['count']})", span["p99_ms"], "ms",
                span["p50_ms"], "p50") for hop, span in hops.items()]


REPLAY_FIGURES = ("replay: projection rebuild over 1,000,000 events", "replay: audit export over 1,000,000 events")
REPLAY_TARGET = ">= 50,000/s, flat memory"


def replay_module():
    """benchmarks/replay.py (h-replay's), imported only now; None while it is not there."""
    try:
        return importlib.import_module("benchmarks.replay")
    except ModuleNotFoundError as missing:
        if missing.name != "benchmarks.replay":
            raise
        return None


def replay_rows(database: Callable[[], str], quick: bool,
                progress: Callable[[str], None] = print) -> tuple[list[Row], object]:
    """Its `measure(pg_url, quick)` rows (and everything it answered), or rows that say why not;
    `database()` makes the empty database it is handed."""
    module = replay_module()
    if module is None:
        return [not_measured(f, "benchmarks/replay.py not there yet", REPLAY_TARGET) for f in REPLAY_FIGURES], None
    try:
        measured = module.measure(database(), quick)
        rows = measured.get("rows", []) if isinstance(measured, dict) else measured
        return [row_from_dict(row) for row in rows], measured
    except Exception as error:  # a failing phase must not lose the others' figures
        progress(f"replay failed: {error!r}")
        return [not_measured(f, f"replay failed: {error!r}"[:120], REPLAY_TARGET) for f in REPLAY_FIGURES], None


def cpu_rows(health_cpu: dict[int, float], commands_cpu: dict[int, float]) -> list[Row]:
    """The dispute API processes' CPU per answer at each measured rate (noise-proof: it does
    not shrink when other work takes the cores), beside the same for GET /healthz."""
    return [Row(f"API CPU per command @{rate:,}/s (idle CPU subtracted)", ms, "ms", health_cpu.get(rate),
                f"API CPU per GET /healthz @{rate:,}/s") for rate, ms in commands_cpu.items()]
