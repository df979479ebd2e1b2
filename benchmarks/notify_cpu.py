"""The notification service's consume path as its Kafka handler runs it (`consume_all`: each
record read through its contract, the batch's notices rendered, inbox entries and outbox
e-mails stored in one transaction), on a durable PostgreSQL, without Kafka: CPU per event of
this process and of PostgreSQL.

    .venv/bin/python -m benchmarks.notify_cpu [--disputes 500] [--events 6000] [--batch 200] [--rounds 3]

The records are what the bench's load makes: a buyer's MessagePosted on one of `--disputes`
disputes (opened first, so the parties are known), each an inbox entry and an e-mail to the
seller; encoded as the relay encodes them (the envelope's JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from uuid import uuid4


def records(disputes: list, first_version: int, count: int) -> list:
    from contracts.envelope import ActorRef, EventEnvelope, event_id_for

    out = []
    for n in range(count):
        dispute_id, buyer, _ = disputes[n % len(disputes)]
        version = first_version + n // len(disputes)
        envelope = EventEnvelope(
            event_id=event_id_for(dispute_id, version), event_type="MessagePosted", schema_version=1,
            dispute_id=dispute_id, dispute_version=version, occurred_at=datetime.now(timezone.utc),
            correlation_id=str(uuid4()), actor=ActorRef(role="buyer", id=buyer),
            payload={"message_id": str(uuid4()), "visibility": "PARTIES"})
        out.append(SimpleNamespace(body=envelope.model_dump_json().encode(), headers={},
                                   raw_message=SimpleNamespace(topic="disputes.events", partition=0,
                                                               offset=n, key=str(dispute_id).encode())))
    return out


def opened(disputes: list) -> list:
    from contracts.envelope import ActorRef, EventEnvelope, event_id_for
    from tests.support.envelopes import OPENED

    return [SimpleNamespace(body=EventEnvelope(
        event_id=event_id_for(dispute_id, 1), event_type="DisputeOpened", schema_version=1,
        dispute_id=dispute_id, dispute_version=1, occurred_at=datetime.now(timezone.utc),
        correlation_id="c", actor=ActorRef(role="buyer", id=buyer),
        payload={**OPENED, "buyer_id": buyer, "seller_id": seller}).model_dump_json().encode(), headers={},
        raw_message=SimpleNamespace(topic="disputes.events", partition=0, offset=0, key=b""))
        for dispute_id, buyer, seller in disputes]


class NoBroker:
    async def publish(self, *args, **kwargs) -> None:
        raise AssertionError("nothing is dead-lettered in this benchmark")


async def consume_round(store, config, batches: list[list], pg_pid: int | None) -> dict[str, float]:
    from benchmarks.mail_cpu import cpu
    from services.notification.consumer import consume_all

    events = sum(len(b) for b in batches)
    before = (time.process_time(), cpu(pg_pid), time.perf_counter())
    for batch in batches:
        await consume_all(NoBroker(), "dlq", store, config, batch)
    after = (time.process_time(), cpu(pg_pid), time.perf_counter())
    per = [(b - a) * 1000 / events for a, b in zip(before, after)]
    return {"events": events, "consumer_ms": per[0], "postgresql_ms": per[1],
            "per_second": events / (after[2] - before[2])}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.cpu_split import postmaster_pid
    from infra.postgres import PostgresServer
    from services.common.database import sqlalchemy_engine
    from services.common.logging import configure_logging
    from services.notification.consumer import NotifyConfig
    from services.notification.store import NotificationStore

    parser = argparse.ArgumentParser(prog="python -m benchmarks.notify_cpu")
    parser.add_argument("--disputes", type=int, default=500)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--log-level", default="INFO", help="the service logs at INFO as deployed")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    with tempfile.TemporaryDirectory(prefix="notify-cpu-") as folder:
        pg = PostgresServer(Path(folder) / "pg", durable=True).start()
        try:
            store = NotificationStore(sqlalchemy_engine(pg.create_database("notify_cpu")))
            store.create_tables()
            config = NotifyConfig()
            disputes = [(uuid4(), f"B-{n}", f"S-{n}") for n in range(args.disputes)]
            chunks = lambda items: [items[i:i + args.batch] for i in range(0, len(items), args.batch)]  # noqa: E731
            asyncio.run(consume_round(store, config, chunks(opened(disputes)), None))
            version = 2
            for n in range(args.rounds):
                batch = records(disputes, version, args.events)
                version += -(-args.events // len(disputes))
                result = asyncio.run(consume_round(store, config, chunks(batch), postmaster_pid(pg.data_dir)))
                print(f"round {n + 1}: {result['events']} events at {result['per_second']:,.0f}/s; CPU per "
                      f"event: consumer {result['consumer_ms']:.3f} ms, PostgreSQL {result['postgresql_ms']:.3f} ms",
                      flush=True)
        finally:
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
