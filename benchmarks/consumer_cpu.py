"""The dispute service's `refunds.events` consumer on the real Kafka, in one process: what it
costs this process and the broker to take and commit each refund result as they arrive at a
fixed rate (the recording on the dispute replaced by a no-op: only the consumer's own work,
faststream's and aiokafka's, and the commits' is measured).

    .venv/bin/python -m benchmarks.consumer_cpu [--records 1000] [--rate 200] [--rounds 2]

Prints, per round, this process's and the broker's CPU per record from the first record sent
until the group has committed the last one, and the commits the broker was asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from uuid import uuid4


async def one_round(kafka, records: int, rate: int) -> tuple[float, float, int, float]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.consumer.group_coordinator import GroupCoordinator

    from benchmarks.memory import cpu_seconds
    from contracts.refunds import RefundIssued
    from services.common.kafka import admin_client, ensure_topics, idempotent_producer, kafka_broker
    from services.dispute.entrypoints import kafka_subscribers

    topic, group = f"bench.{uuid4().hex[:8]}.refunds.events", f"bench-{uuid4().hex[:6]}"
    await ensure_topics(kafka.admin, {topic: {}}, 6)
    kafka_subscribers.GROUP = group
    seen: set[str] = set()
    kafka_subscribers.record_refund_result = lambda disputes, result: seen.add(result.refund_id)  # type: ignore[assignment]
    commits = [0]
    real_commit = GroupCoordinator.commit_offsets

    async def counted(self, assignment, offsets):
        commits[0] += 1
        return await real_commit(self, assignment, offsets)

    GroupCoordinator.commit_offsets = counted  # type: ignore[method-assign]
    broker = kafka_broker(kafka.admin, "bench")
    lanes = kafka_subscribers.register_refund_consumer(broker, object(), topic=topic)  # type: ignore[arg-type]
    producer = idempotent_producer(kafka.admin, "bench-producer")
    await broker.start()
    await producer.start()
    await asyncio.sleep(3)  # the group joined and partitions assigned
    results = [RefundIssued(event_id=uuid4(), refund_id=f"R-{n}", dispute_id=uuid4(), amount=Decimal("1.00"),
                            currency="USD", occurred_at=_now(), causation_id="E-1", provider_reference="re_1")
               for n in range(records)]
    commits[0] = 0
    own, broker_cpu, started = time.process_time(), cpu_seconds(kafka.process.pid), time.monotonic()
    for n, result in enumerate(results):
        await producer.send(topic, result.kafka_value(), key=result.kafka_key())
        await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.monotonic()))
    await producer.flush()
    admin = admin_client(kafka.admin)
    await admin.start()
    ends_consumer = AIOKafkaConsumer(**kafka.admin.client_options())
    await ends_consumer.start()
    ends = await ends_consumer.end_offsets([TopicPartition(topic, p) for p in range(6)])
    await ends_consumer.stop()
    while True:
        offsets = await admin.list_consumer_group_offsets(group)
        if len(seen) == records and all(offsets.get(tp) is not None and offsets[tp].offset == end
                                        for tp, end in ends.items() if end):
            break
        await asyncio.sleep(0.05)
    wall = time.monotonic() - started
    own, broker_cpu = time.process_time() - own, cpu_seconds(kafka.process.pid) - broker_cpu
    await admin.close()
    if lanes is not None:
        await lanes.stop()
    await broker.stop()
    await producer.stop()
    GroupCoordinator.commit_offsets = real_commit  # type: ignore[method-assign]
    return own, broker_cpu, commits[0], wall


def _now():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)


def main(argv: list[str] | None = None) -> int:
    from infra.kafka import KafkaServer
    from services.common.logging import configure_logging

    parser = argparse.ArgumentParser(prog="python -m benchmarks.consumer_cpu")
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="consumer-cpu-") as folder:
        kafka = KafkaServer(Path(folder) / "kafka")
        kafka.start()
        try:
            for round_ in range(args.rounds):
                own, broker, commits, wall = asyncio.run(one_round(kafka, args.records, args.rate))
                print(f"round {round_ + 1}: {args.records} records at {args.rate}/s, done in {wall:.1f} s: "
                      f"consumer process {own / args.records * 1000:.3f} ms CPU/record (producer included), "
                      f"broker {broker / args.records * 1000:.3f} ms CPU/record, {commits} commits",
                      flush=True)
        finally:
            kafka.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
