"""The relay as its process runs it (pipelined, relay lock, signed checkpoints) on a durable
PostgreSQL and the real Kafka (SASL + ACLs), beside raw aiokafka produce of the same records in
the same run: `make bench`'s relay figure, in one process, at the sizes and batch sizes asked.

    .venv/bin/python -m benchmarks.relay_kafka [--events 20000] [--batches 200,1000] [--rounds 2] [--no-freeze]

Each round relays the whole store once per batch size, each to a topic of its own, then
produces the same number of records raw (the relay's value, headers and keys, the relay's
producer settings). Prints events/s and CPU per event of each (this process: for the relay its
reads, translation and sends), and the ratios to raw produce of that round: of the rates (what
`make bench` shows, at the mercy of a shared machine) and of the CPU per event (raw's over the
relay's: the rate ratio the relay reaches when it has a core to itself).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4


async def relay_store(app, url: str, connection, batch: int, head: int) -> tuple[float, float, object]:
    """(seconds, CPU seconds, a record) for relaying notifications 1..head to a new topic."""
    from services.common.kafka import ensure_topics, idempotent_producer
    from services.common.database import sqlalchemy_engine
    from services.dispute.audit.checkpoint_topic import CheckpointPublisher
    from services.dispute.relay.lock import relay_lock_for
    from services.dispute.relay.relay import Relay

    topic, audit = f"bench.relay.{uuid4().hex[:8]}", f"bench.audit.{uuid4().hex[:8]}"
    await ensure_topics(connection, {topic: {}, audit: {}}, partitions=6)
    position = ReachingPosition(sqlalchemy_engine(url), topic)
    position.head = head
    position.create_tables()
    producer = SampledProducer(idempotent_producer(connection, f"bench-relay-{batch}"))
    await producer.start()
    relay = Relay(app, producer, position, batch, 0.05, topic, lock=relay_lock_for(url, topic),
                  checkpoints=CheckpointPublisher(producer, audit, app.chain_keys))
    stopping = asyncio.Event()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        running = asyncio.create_task(relay.run(stopping))
        await asyncio.to_thread(position.reached.wait)
        wall, cpu = position.done_at[0] - wall, position.done_at[1] - cpu
        stopping.set()
        await running
        return wall, cpu, producer
    finally:
        await producer.stop()


class ReachingPosition:
    """A relay position that notes when (wall, CPU) it was saved at the store's head (polling it
    would cost the relay's process CPU of its own)."""

    def __new__(cls, engine, name):
        from services.dispute.relay.relay import RelayPosition

        class Reaching(RelayPosition):
            head, reached, done_at = 0, threading.Event(), (0.0, 0.0)

            def advance(self, start: int, position: int) -> None:
                super().advance(start, position)
                if position >= self.head:
                    self.done_at = (time.perf_counter(), time.process_time())
                    self.reached.set()

        return Reaching(engine, name)


class SampledProducer:
    """The producer, keeping the first record of the events topic and its keys (for raw produce)."""

    def __init__(self, producer):
        self.producer, self.sample, self.keys = producer, None, []

    async def start(self):
        await self.producer.start()

    async def stop(self):
        await self.producer.stop()

    async def send(self, topic, value=None, key=None, headers=None):
        if not topic.startswith("bench.audit") and len(self.keys) < 1000:
            self.sample = self.sample or (value, headers)
            self.keys.append(key)
        return await self.producer.send(topic, value=value, key=key, headers=headers)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.baselines import create_topics, raw_kafka_produce
    from benchmarks.replay import fill, template_streams
    from infra.kafka import KafkaServer
    from infra.postgres import PostgresServer
    from services.common.bulk_gc import serving_heap
    from services.dispute.entrypoints.relay_process import RELAY_YOUNG_THRESHOLD
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings
    from services.common.logging import configure_logging

    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay_kafka")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batches", default="200,1000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-freeze", action="store_true", help="leave the garbage collector as Python "
                        "sets it (the relay process freezes its built heap: services/common/bulk_gc.py serving_heap)")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="relay-kafka-") as folder:
        pg, kafka = PostgresServer(Path(folder) / "pg", durable=True), KafkaServer(Path(folder) / "kafka")
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(pg.start), pool.submit(kafka.start)]:
                started.result()
        try:
            url = pg.create_database("relay_kafka")
            app = build_application(DisputeSettings(database_url=url))
            head = fill(app, url, template_streams(app), args.events)
            head = app.recorder.max_notification_id()
            # as the relay process does once its store is built
            with serving_heap(0 if args.no_freeze else RELAY_YOUNG_THRESHOLD):
                for round_ in range(args.rounds):
                    for batch in [int(b) for b in args.batches.split(",")]:
                        wall, cpu, sampled = asyncio.run(relay_store(app, url, kafka.admin, batch, head))
                        raw_topic = f"bench.raw.{uuid4().hex[:8]}"
                        asyncio.run(create_topics(kafka.admin, raw_topic))
                        raw_cpu = time.process_time()
                        raw = asyncio.run(raw_kafka_produce(kafka.admin, head, *sampled.sample, sampled.keys,
                                                            raw_topic))
                        raw_cpu = time.process_time() - raw_cpu
                        print(f"round {round_ + 1}, batch {batch}: relay {head / wall:,.0f}/s "
                              f"({cpu / head * 1e6:.0f} us CPU/event), raw produce {raw:,.0f}/s "
                              f"({raw_cpu / head * 1e6:.0f} us CPU/record): {head / wall / raw:.2f} x raw, "
                              f"CPU {raw_cpu / cpu:.2f} x raw", flush=True)
        finally:
            kafka.stop()
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
