"""The raw rates of what the system stands on, measured in the same run on the same servers:
PostgreSQL single-row transactions (psycopg) and Kafka produce (aiokafka, the relay's settings).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from uuid import uuid4

from services.common.kafka import KafkaConnection, ensure_topics, idempotent_producer
from services.common.topics import UNLIMITED_RETENTION


def raw_postgres_transactions(dsn: str, connections: int, seconds: float) -> float:
    """Single-row INSERTs, one committed (flushed: fsync is on) transaction each, from
    `connections` threads each with its own connection: transactions per second."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY, body bytea NOT NULL)")
    body = os.urandom(300)
    counts = [0] * connections
    start_line = threading.Barrier(connections + 1)
    stop_at: list[float] = []

    def insert(slot: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            start_line.wait()
            while time.perf_counter() < stop_at[0]:
                conn.execute("INSERT INTO bench_raw VALUES (%s, %s)", (uuid4(), body))
                counts[slot] += 1

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    stop_at.append(time.perf_counter() + seconds)
    start = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


async def create_topics(connection: KafkaConnection, *topics: str, partitions: int = 6) -> None:
    """Ahead of the measure: a new topic's partitions need a moment to elect their leaders
    (and a watch on a topic that does not exist yet would see no partition at all)."""
    await ensure_topics(connection, {topic: UNLIMITED_RETENTION for topic in topics}, partitions=partitions)


async def raw_kafka_produce(connection: KafkaConnection, count: int, value: bytes,
                            headers: list[tuple[str, bytes]], keys: list[bytes],
                            topic: str = "bench.raw") -> float:
    """`count` records shaped like the relay's (its value, headers and keys), idempotent,
    acks=all, every send queued before any is awaited (pipelined): records per second."""
    producer = idempotent_producer(connection, "bench-raw")
    await producer.start()
    key = itertools.cycle(keys or [b"k"])
    try:
        for warm_up in set(keys[:50]):  # every partition's leader known before the clock starts
            await producer.send_and_wait(topic, value, key=warm_up, headers=headers)
        start = time.perf_counter()
        sent = [await producer.send(topic, value, key=next(key), headers=headers) for _ in range(count)]
        await asyncio.gather(*sent)
        return count / (time.perf_counter() - start)
    finally:
        await producer.stop()
