"""The ledger as a table on the terminal and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tools.chaos.ledger import SHOWN, Check


def table(seed: int, counts: dict, checks: list[Check]) -> str:
    rows = [("seed", str(seed))]
    for name, value in counts.items():
        if isinstance(value, dict):
            rows.append((name, ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "-"))
        else:
            rows.append((name, f"{value:,}" if isinstance(value, int) else str(value)))
    width = max(len(name) for name, _ in rows)
    lines = ["", "| what | count |", "|---|---|"] + [f"| {n:<{width}} | {v} |" for n, v in rows]
    lines += ["", "| check | checked | result |", "|---|---|---|"]
    lines += [f"| {c.name} | {c.checked:,} | {'ok' if c.ok else f'{len(c.mismatches)} MISMATCHED'} |"
              for c in checks]
    for c in checks:
        for mismatch in c.mismatches[:SHOWN]:
            lines.append(f"MISMATCH {c.name}: {mismatch}")
        if len(c.mismatches) > SHOWN:
            lines.append(f"MISMATCH {c.name}: ... and {len(c.mismatches) - SHOWN} more (see the JSON ledger)")
    return "\n".join(lines)


def write_json(path: Path, seed: int, settings: dict, counts: dict, checks: list[Check],
               faults: list[dict], notes: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "seed": seed, "settings": settings, "balanced": all(c.ok for c in checks), "counts": counts,
        "checks": [{"name": c.name, "checked": c.checked, "ok": c.ok, "mismatches": c.mismatches}
                   for c in checks],
        "faults": faults, **notes}, indent=2, default=str))
