"""The relay's translation alone, per event: the stored path it takes (stored JSON straight into
the record) beside the domain event's path (the library's typed decode, the domain event, then
the record), over the same stored events, in one process, alternating, best of N rounds. No
database, no Kafka: the figure that a shared machine disturbs least.

    .venv/bin/python -m benchmarks.relay_paths [--events 20000] [--rounds 7]

The events are real (benchmarks/replay.py's template disputes through the application, copied
under new ids and re-chained) and held in memory; both paths must give the same records.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from uuid import uuid4


def stored_events(count: int) -> tuple[object, list]:
    from eventsourcing.persistence import StoredEvent

    from benchmarks.replay import rechained, template_streams
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings

    folder = tempfile.mkdtemp(prefix="relay-paths-")
    app = build_application(DisputeSettings(database_url=f"sqlite:///{folder}/store.sqlite"))
    templates, events = template_streams(app), []
    while len(events) < count:
        template, new_id = templates[len(events) % len(templates)], uuid4()
        for event, state in zip(template, rechained(app, template, new_id)):
            events.append(StoredEvent(new_id, event.originator_version, event.topic, state))
    return app.mapper, events[:count]


def cpu_per_event(translate, events: list) -> float:
    started = time.process_time()
    for event in events:
        translate(event)
    return (time.process_time() - started) / len(events)


def main(argv: list[str] | None = None) -> int:
    from services.dispute.adapters.translation import is_public, stored_kafka_record, to_kafka_record

    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay_paths")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    mapper, events = stored_events(args.events)

    def domain_event_path(stored):
        event, meta = mapper.to_domain_event_with_meta(stored)
        return to_kafka_record(event, meta) if is_public(event) else None

    def stored_path(stored):
        return stored_kafka_record(stored, mapper)[0]

    assert [stored_path(e) for e in events] == [domain_event_path(e) for e in events]
    best = {"domain event": float("inf"), "stored": float("inf")}
    for _ in range(args.rounds):
        best["domain event"] = min(best["domain event"], cpu_per_event(domain_event_path, events))
        best["stored"] = min(best["stored"], cpu_per_event(stored_path, events))
    print(f"relay translation, {len(events):,} events, best of {args.rounds}: domain event path "
          f"{best['domain event'] * 1e6:.1f} us/event, stored path {best['stored'] * 1e6:.1f} us/event "
          f"({best['domain event'] / best['stored']:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
