"""Do `disputectl audit export` and `verify` keep memory flat? Peak RSS at 100k vs 1M events.

    make bench-export                     # starts a throwaway PostgreSQL
    DISPUTE_DATABASE_URL=postgresql://... .venv/bin/python -m benchmarks.export_memory

Events are generated fast, straight into the store: one dispute's real stored events (opened,
responded, offer, rejection, message) are built once through the application's mapper, then
copied under new dispute ids, each copy re-chained under the audit key (the chain covers the
dispute id), and COPY'd into the recorder's table (the recorder's own `insert_events` adapts
each row as a composite value: ~200 rows/s, too slow for a million). Each export and verify
runs in a fresh process (to /dev/null) that reports its own peak RSS. Verify keeps one small
head per dispute (a 5-event dispute per 5 events here), never the events.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZES = (100_000, 1_000_000)


def template_events(app) -> list:
    """The stored events of one realistic dispute, through the real mapper (hash chain too)."""
    from services.dispute.domain import Actor, Role
    from services.dispute.adapters.order_book import OrderBook
    from tests.support.orders import NOW, order_placed

    buyer, seller = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed(order_id="O-template")),
                               item_id="I-1", actor=buyer, reason="DAMAGED", request="FULL_REFUND",
                               request_amount=None, description="arrived cracked", at=NOW)
    day = NOW + timedelta(days=1)
    app.execute(dispute.id, day, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=seller, at=day,
        policy=app.policy))
    app.execute(dispute.id, day, lambda d: d.reject_offer(offer_id="OF-1", reason="too little",
                                                           actor=buyer, at=day, policy=app.policy))
    app.execute(dispute.id, day, lambda d: d.post_message(message_id="M-1", text="see photos",
                                                           actor=buyer, at=day))
    return list(app.recorder.select_events(dispute.id))


def rechained(app, template: list, new_id) -> list[bytes]:
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


def generate(app, url: str, template: list, count: int) -> None:
    import psycopg

    columns = "originator_id, originator_version, topic, state"
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY disputes_events ({columns}) FROM STDIN") as copy:
            for _ in range(0, count, len(template)):
                new_id = uuid4()
                for event, state in zip(template, rechained(app, template, new_id)):
                    copy.write_row((new_id, event.originator_version, event.topic, state))


def in_child(url: str, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.export_memory", mode],
                         cwd=ROOT, env={**os.environ, "DISPUTE_DATABASE_URL": url},
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_only() -> None:
    from services.dispute.audit import history
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    app = build_application(DisputeSettings())
    started = time.monotonic()
    with open(os.devnull, "w") as sink:
        events = history.export(app, sink)
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": events, "seconds": round(seconds, 1),
                      "events_per_second": round(events / seconds), "peak_rss_mb": round(peak_mb, 1)}))


def verify_only() -> None:
    from services.dispute.audit import verify as audit_verify
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    app = build_application(DisputeSettings())
    started = time.monotonic()
    report = audit_verify.verify(app)
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": report.events, "findings": report.problems, "seconds": round(seconds, 1),
                      "events_per_second": round(report.events / seconds), "peak_rss_mb": round(peak_mb, 1)}))


def run(url: str) -> None:
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    app = build_application(DisputeSettings(database_url=url))
    template, stored = template_events(app), 0
    for size in SIZES:
        started = time.monotonic()
        generate(app, url, template, size - stored)
        stored = app.recorder.max_notification_id()
        print(f"generated {stored:,} events in the store ({time.monotonic() - started:.0f}s)", flush=True)
        result = in_child(url, "--export-only")
        print(f"export of {result['events']:,} events: peak RSS {result['peak_rss_mb']} MB, "
              f"{result['seconds']}s ({result['events_per_second']:,} events/s)", flush=True)
        result = in_child(url, "--verify-only")
        print(f"verify of {result['events']:,} events ({result['findings']} findings): peak RSS "
              f"{result['peak_rss_mb']} MB, {result['seconds']}s ({result['events_per_second']:,} events/s)",
              flush=True)


def main() -> None:
    if "--export-only" in sys.argv:
        export_only()
        return
    if "--verify-only" in sys.argv:
        verify_only()
        return
    url = os.environ.get("DISPUTE_DATABASE_URL", "")
    if url.startswith("postgres"):
        run(url)
        return
    from infra.postgres import PostgresServer

    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    server = PostgresServer(folder / "pg").start()
    try:
        run(server.create_database("bench_export"))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)  # a million events take ~1 GB


if __name__ == "__main__":
    main()
