"""Eyes on Kafka during the load: a consumer (no group, nothing committed) that keeps, for
every record of the watched topics from now on, its Kafka timestamp (CreateTime: set by the
producer that published it) with what the benchmark needs from the payload."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka import KafkaConnection, admin_client, read_to_end


@dataclass(frozen=True)
class Seen:
    topic: str
    published_at: float  # the record's timestamp, epoch seconds
    event_type: str
    dispute_id: str
    occurred_at: float | None  # the event's own time (disputes.events): set by the command


def seen(topic: str, timestamp_ms: int, value: bytes) -> Seen:
    body = json.loads(value)
    occurred = body.get("occurred_at")
    return Seen(topic, timestamp_ms / 1000, str(body.get("event_type", "")), str(body.get("dispute_id", "")),
                datetime.fromisoformat(occurred.replace("Z", "+00:00")).timestamp() if occurred else None)


class KafkaWatch:
    def __init__(self, connection: KafkaConnection, topics: list[str]):
        self.connection, self.topics = connection, topics
        self.records: list[Seen] = []
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self, timeout: float = 30.0) -> "KafkaWatch":
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the Kafka watch did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)

    def between(self, topic: str, start: float, end: float) -> list[Seen]:
        return [r for r in list(self.records) if r.topic == topic and start <= r.published_at <= end]

    async def _run(self) -> None:
        # The broker's default wait for a fetch (500 ms): a fetch is answered as soon as a record
        # is there, and the figures read each record's own timestamp, not when the watch saw it.
        # A 50 ms wait made the idle watch fetch twenty times a second, the broker's CPU for it
        # (~55 ms a second idle) counted in the benchmark's own figure of Kafka's CPU.
        consumer = AIOKafkaConsumer(**self.connection.client_options(), client_id="bench-watch",
                                    group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="latest")
        try:
            await consumer.start()
            partitions = [tp for topic in self.topics for tp in await partitions_of(self.connection, topic)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:
                await consumer.position(tp)
            self._ready.set()
            while not self._stopping.is_set():
                for tp, batch in (await consumer.getmany(timeout_ms=200, max_records=2000)).items():
                    self.records.extend(seen(tp.topic, r.timestamp, r.value) for r in batch)
        except BaseException as error:
            self._error = error
            raise
        finally:
            await consumer.stop()


async def partitions_of(connection: KafkaConnection, topic: str) -> list[TopicPartition]:
    admin = admin_client(connection, "bench-describe")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        return sorted(TopicPartition(topic, p["partition"]) for p in described[0]["partitions"])
    finally:
        await admin.close()


@dataclass(frozen=True)
class TopicSpan:
    records: int
    first: float  # epoch seconds of the earliest record timestamp
    last: float
    sample_value: bytes
    sample_headers: list[tuple[str, bytes]]
    keys: list[bytes]
    mean_value_bytes: float

    @property
    def rate(self) -> float:
        return self.records / (self.last - self.first) if self.last > self.first else 0.0


async def topic_span(connection: KafkaConnection, topic: str, max_keys: int = 1000) -> TopicSpan:
    """A whole topic read once: how many records, from which to which timestamp."""
    count, size, first, last = 0, 0, float("inf"), 0.0
    sample = None
    keys: set[bytes] = set()
    async for record in read_to_end(connection, topic, "bench-span"):
        count += 1
        size += len(record.value or b"")
        first, last = min(first, record.timestamp / 1000), max(last, record.timestamp / 1000)
        sample = sample or record
        if len(keys) < max_keys and record.key:
            keys.add(record.key)
    if sample is None:
        raise RuntimeError(f"{topic} is empty")
    return TopicSpan(count, first, last, sample.value, list(sample.headers or []), sorted(keys), size / count)
