"""In-process figures (no HTTP): dispute commands through an application or the shard facade
from threads, beside raw single-row PostgreSQL transactions (used by benchmarks/shards.py)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from uuid import uuid4


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


