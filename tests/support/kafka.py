"""Reading a real topic from the start, for assertions."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

from aiokafka import AIOKafkaConsumer

from services.common.kafka import KafkaConnection


async def read_topic(connection: KafkaConnection, topic: str, expect: int, timeout: float = 30.0) -> list:
    """Every record of `topic` until `expect` are seen (or the timeout; then what was seen)."""
    consumer = AIOKafkaConsumer(topic, **connection.client_options(), group_id=f"test-{uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                metadata_max_age_ms=1000)  # a topic made later is found
    await consumer.start()
    records, deadline = [], time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def eventually(check, timeout: float = 30.0, interval: float = 0.2):
    """Poll an async or plain check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


async def drain_topic(connection: KafkaConnection, topic: str, quiet_ms: int = 1500, limit: float = 30.0) -> list:
    """Every record of `topic` from the start, until nothing new arrives for `quiet_ms`."""
    consumer = AIOKafkaConsumer(topic, **connection.client_options(), group_id=f"test-{uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                metadata_max_age_ms=1000)  # a topic made later is found
    await consumer.start()
    records, deadline = [], time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=quiet_ms)
            if not batch and records:
                break
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records
