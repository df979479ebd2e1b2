"""The benchmark's figures as rows, the rule for "the highest rate held", and the table.

Pure: no I/O but `write_results`. Every phase (this runner's, and benchmarks/replay.py's
`measure`) hands back rows of one shape, plain JSON:

    {"figure": "HTTP commands @1,000/s: p99", "value": 41.0, "unit": "ms",
     "baseline": 3.1, "baseline_of": "GET /healthz @1,000/s: p99",
     "ratio": 13.2, "target": "<= 50 ms", "met": true, "note": ""}

`value` and `baseline` may be None (not measured: `note` says why); `ratio` is value/baseline
when both are known; `met` is None when the figure has no target or was not measured.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

P99_LIMIT_MS = 50.0
HELD_SHARE = 0.95  # an offered rate is held only if at least this share of it was achieved


@dataclass(frozen=True)
class Row:
    figure: str
    value: float | None
    unit: str = ""
    baseline: float | None = None
    baseline_of: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def not_measured(figure: str, why: str, target: str = "") -> Row:
    return Row(figure, None, target=target, note=f"not measured: {why}")


def row_from_dict(data: Mapping[str, Any]) -> Row:
    """A row handed back as plain JSON (benchmarks/replay.py); `ratio` is recomputed. The
    replay module names its fields `name` and `baseline_name`: read as `figure`, `baseline_of`."""
    aliases = {"name": "figure", "baseline_name": "baseline_of"}
    data = {aliases.get(key, key): value for key, value in data.items()}
    known = {name: data[name] for name in Row.__dataclass_fields__ if name in data}
    return Row(**known)


@dataclass(frozen=True)
class RateResult:
    """One fixed offered rate, as the load generator saw it."""

    offered: float
    achieved: float  # successful responses per second
    requests: int
    errors: int  # non-2xx answers and transport errors (timeouts included)
    p50_ms: float
    p95_ms: float
    p99_ms: float
    status_codes: dict[str, int]
    error_samples: list[str]

    def held(self, p99_limit_ms: float = P99_LIMIT_MS) -> bool:
        return (self.errors == 0 and self.p99_ms <= p99_limit_ms
                and self.achieved >= HELD_SHARE * self.offered)


def highest_rate_held(results: Iterable[RateResult], p99_limit_ms: float = P99_LIMIT_MS) -> float | None:
    """The highest offered rate with no error, p99 within the limit and (open loop) at least
    95 % of the offered rate achieved; None when no rate held."""
    held = [r.offered for r in results if r.held(p99_limit_ms)]
    return max(held) if held else None


NS_PER_MS = 1_000_000


def parse_vegeta_report(report: Mapping[str, Any], offered: float) -> RateResult:
    """`vegeta report -type=json`: latencies in nanoseconds, status codes as strings ("0" is a
    transport error: refused, reset, timed out)."""
    latencies = report.get("latencies", {})
    codes = {str(code): int(count) for code, count in (report.get("status_codes") or {}).items()}
    errors = sum(count for code, count in codes.items() if not 200 <= int(code) < 300)
    return RateResult(
        offered=offered, achieved=float(report.get("throughput", 0.0)),
        requests=int(report.get("requests", 0)), errors=errors,
        p50_ms=latencies.get("50th", 0) / NS_PER_MS, p95_ms=latencies.get("95th", 0) / NS_PER_MS,
        p99_ms=latencies.get("99th", 0) / NS_PER_MS, status_codes=codes,
        error_samples=list(report.get("errors") or [])[:5])


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (share in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "MB":
        return f"{value:,.0f} MB"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text}{unit}" if unit.startswith("/") else f"{text} {unit}".rstrip()


def cells(row: Row) -> list[str]:
    value = _number(row.value, row.unit) if row.value is not None else row.note or "-"
    baseline = "-"
    if row.baseline is not None:
        baseline = f"{_number(row.baseline, row.unit)} ({row.baseline_of})" if row.baseline_of else \
            _number(row.baseline, row.unit)
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    return [row.figure, value, baseline, ratio, row.target or "-", met]


HEADERS = ["figure", "value", "baseline", "ratio", "target", "met?"]


def table(rows: Iterable[Row]) -> str:
    """A Markdown table (it reads as plain text in a terminal too)."""
    lines = [HEADERS, *[cells(row) for row in rows]]
    widths = [max(len(line[n]) for line in lines) for n in range(len(HEADERS))]
    out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def write_results(path: Path, meta: Mapping[str, Any], rows: Iterable[Row],
                  details: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {**meta, "rows": [row.as_dict() for row in rows], "details": details}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
