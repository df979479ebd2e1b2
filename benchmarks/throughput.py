"""Throughput of the write path against the raw rates of what it stands on, in one run.

    make bench                                   # starts a durable PostgreSQL and a Kafka broker

Baselines (same machine, same run, same servers):
- raw PostgreSQL: single-row INSERTs, one transaction each (a command is one transaction),
  from as many threads as the command benchmark uses;
- raw Kafka: aiokafka idempotent producer (acks=all), 1 KB records, as the relay publishes.

Measured:
- dispute commands/s through DisputeApplication on PostgreSQL (load the dispute, one domain
  call, save with the hash chain), from several threads on distinct disputes;
- relay events/s from the store to Kafka (the relay's own batch loop, PostgreSQL to Kafka).

Each figure is printed beside its baseline and as a ratio: these machines are shared and noisy,
so only the ratios travel. PostgreSQL runs durable (fsync on), as in production.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THREADS = int(os.environ.get("BENCH_THREADS", "4"))
COMMANDS = int(os.environ.get("BENCH_COMMANDS", "2000"))
RECORDS = int(os.environ.get("BENCH_RECORDS", "20000"))


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def in_threads(work, items: list, threads: int) -> float:
    """Seconds to run work(item) for every item, spread over `threads` threads."""
    chunks = [items[n::threads] for n in range(threads)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda chunk: [work(item) for item in chunk], chunks))
    return time.perf_counter() - start


def raw_postgres_inserts(dsn: str, count: int, threads: int) -> float:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_raw (id uuid PRIMARY KEY, body bytea NOT NULL)")
    local = threading.local()
    body = os.urandom(300)

    def insert(_):
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(dsn, autocommit=True)
        local.conn.execute("INSERT INTO bench_raw VALUES (%s, %s)", (uuid4(), body))

    return rate(count, in_threads(insert, list(range(count)), threads))


async def raw_kafka_produce(connection, count: int) -> float:
    from services.common.kafka import ensure_topics, idempotent_producer

    await ensure_topics(connection, {"bench.raw": {}}, partitions=6)
    producer = idempotent_producer(connection, "bench-raw")
    await producer.start()
    value = os.urandom(1000)
    try:
        start = time.perf_counter()
        sent = [await producer.send("bench.raw", value, key=str(n % 64).encode()) for n in range(count)]
        await asyncio.gather(*sent)
        return rate(count, time.perf_counter() - start)
    finally:
        await producer.stop()


def dispute_commands(app, count: int, threads: int) -> float:
    """Messages posted on `threads` x 10 disputes, one command (load, decide, save) each."""
    from services.dispute.domain import Actor, Role
    from services.dispute.adapters.order_book import OrderBook
    from tests.support.orders import NOW, order_placed

    buyer = Actor(Role.BUYER, "B-1")
    disputes = [app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-bench-{n}")),
                                 item_id="I-1", actor=buyer, reason="DAMAGED",
                                 request="FULL_REFUND", request_amount=None, description="",
                                 at=NOW).id for n in range(threads * 10)]
    work = [(disputes[n % len(disputes)], n) for n in range(count)]

    def post(item):
        dispute_id, n = item
        app.execute(dispute_id, NOW, lambda d: d.post_message(
            message_id=f"M-{n}", text="still waiting", actor=buyer, at=NOW))

    # same dispute never on two threads at once: thread k owns disputes k, k+threads, ...
    return rate(count, in_threads(post, work, threads))


async def relay_throughput(app, connection, engine) -> tuple[float, int]:
    from services.common.kafka import ensure_topics, idempotent_producer
    from services.dispute.relay.relay import Relay, RelayPosition

    position = RelayPosition(engine, "bench.disputes")
    position.create_tables()
    await ensure_topics(connection, {"bench.disputes": {}}, partitions=6)
    producer = idempotent_producer(connection, "bench-relay")
    await producer.start()
    relay = Relay(app, producer, position, batch_size=500, topic="bench.disputes")
    total = 0
    try:
        start = time.perf_counter()
        while (published := await relay.publish_next_batch()) > 0:
            total += published
        return rate(total, time.perf_counter() - start), total
    finally:
        await producer.stop()


def report(rows: list[tuple[str, float, str, float]]) -> None:
    print(f"\n{'measured':<44}{'per second':>12}   {'baseline':<30}{'per second':>12}{'ratio':>8}")
    for name, value, baseline, base in rows:
        print(f"{name:<44}{value:>12,.0f}   {baseline:<30}{base:>12,.0f}{value / base:>8.2f}")


def main() -> int:
    from infra.kafka import KafkaServer
    from infra.postgres import PostgresServer
    from services.common.database import sqlalchemy_engine
    from services.dispute.bootstrap import build_application
    from services.dispute.settings import DisputeSettings
    from services.common.logging import configure_logging

    configure_logging("WARNING")
    folder = Path(tempfile.mkdtemp(prefix="dispute-bench-"))
    print(f"starting a durable PostgreSQL and a Kafka broker in {folder} ...", flush=True)
    pg = PostgresServer(folder / "pg", durable=True).start()
    kafka = KafkaServer(folder / "kafka").start()
    try:
        print(f"raw PostgreSQL: {COMMANDS} single-row transactions on {THREADS} threads ...", flush=True)
        pg_rate = raw_postgres_inserts(pg.create_database("bench_raw"), COMMANDS, THREADS)
        print(f"raw Kafka: {RECORDS} records of 1 KB, idempotent, acks=all ...", flush=True)
        kafka_rate = asyncio.run(raw_kafka_produce(kafka.admin, RECORDS))
        url = pg.create_database("bench_disputes")
        app = build_application(DisputeSettings(database_url=url))
        print(f"dispute commands: {COMMANDS} on {THREADS} threads ...", flush=True)
        command_rate = dispute_commands(app, COMMANDS, THREADS)
        print("relay: the whole store to Kafka ...", flush=True)
        relay_rate, events = asyncio.run(relay_throughput(app, kafka.admin, sqlalchemy_engine(url)))
        report([
            (f"dispute commands ({THREADS} threads)", command_rate,
             f"raw PG inserts ({THREADS} threads)", pg_rate),
            (f"relay, store to Kafka ({events} events)", relay_rate, "raw Kafka produce", kafka_rate),
        ])
    finally:
        kafka.stop()
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
