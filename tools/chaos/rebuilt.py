"""Projections against a rebuild from scratch, and the audit chain: a fresh generation of each
projection is built beside the live one from the start of history (never switched to), compared
row for row, and dropped; `disputectl audit verify` checks every chain against the checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import delete, or_, select

from services.common.database import sqlalchemy_engine
from services.dispute.projections.rebuild import PROJECTIONS, heads
from services.dispute.projections.tracked import live_version, projection_positions
from tools.chaos.ledger import Check

SCRATCH = 1000  # the scratch generation's number above the live one: never the next rebuild's


def caught_up(disputes, database_url: str) -> int:
    """How many events the live projections are still behind, summed over them."""
    engine = sqlalchemy_engine(database_url)
    try:
        head = heads(disputes)
        return sum(max(0, h - p) for kind in PROJECTIONS.values()
                   for h, p in zip(head, kind(disputes, engine).positions()))
    finally:
        engine.dispose()


def projections_equal_rebuild(disputes, database_url: str) -> Check:
    check = Check("every projection equals a rebuild from scratch")
    engine = sqlalchemy_engine(database_url)
    try:
        for kind in PROJECTIONS.values():
            live = kind(disputes, engine)
            with engine.connect() as conn:
                version = live_version(conn, kind.name)
            scratch = kind(disputes, engine, batch_size=2000, version=version + SCRATCH)
            table = scratch.table(version + SCRATCH)
            _drop(engine, table)
            table.metadata.create_all(engine)
            try:
                scratch.catch_up()
                expected, actual = _rows(engine, table), _rows(engine, live.live_table())
            finally:
                _drop(engine, table)
            check.checked += len(expected)
            if actual != expected:
                check.mismatches.append(_difference(kind.name, actual, expected))
    finally:
        engine.dispose()
    return check


def _rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def _difference(name: str, actual: list[dict], expected: list[dict]) -> str:
    live, rebuilt = ({repr(sorted(r.items())) for r in rows} for rows in (actual, expected))
    only_live, only_rebuilt = sorted(live - rebuilt), sorted(rebuilt - live)
    return (f"{name}: {len(actual)} live rows, {len(expected)} rebuilt; only live: "
            f"{only_live[:2]}; only rebuilt: {only_rebuilt[:2]}")


def _drop(engine, table) -> None:
    table.drop(engine, checkfirst=True)
    with engine.begin() as conn:
        names = projection_positions.c.name
        conn.execute(delete(projection_positions).where(
            or_(names == table.name, names.like(f"{table.name}@%"))))


def audit_verifies(env: dict[str, str], log: Path) -> Check:
    """`disputectl audit verify` (checkpoints from the audit topic) as an operator runs it."""
    check = Check("audit verify passes")
    disputectl = Path(sys.executable).parent / "disputectl"
    result = subprocess.run([str(disputectl), "audit", "verify"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=300)
    log.write_text(result.stdout + result.stderr)
    check.checked = 1
    if result.returncode != 0:
        findings = [line for line in result.stdout.splitlines() if line.strip()]
        check.mismatches = findings[-SHOWN_LINES:] or [result.stderr[-500:]]
    return check


SHOWN_LINES = 10
