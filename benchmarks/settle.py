"""Waiting for the system to be quiet between phases, so one phase's backlog (commands still
being written, events still being relayed or consumed) is not billed to the next.

Only what any version of the system shows from outside is looked at: the store's notification
log (SQL), the records on Kafka and the consumer groups' committed offsets; never a table or a
position name of the relay's own, which a rewrite (shards) may change.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer

from benchmarks.watch import partitions_of
from contracts.topics import DISPUTES_EVENTS
from services.common.kafka import KafkaConnection, admin_client
from services.common.topics import CONSUMER_GROUPS

# Every table of the store with a notification log (the recorder's own name for it is not
# ours to rely on).
LOG_TABLES = ("SELECT table_name FROM information_schema.columns WHERE column_name = 'notification_id' "
              "AND table_schema = current_schema()")
QUIET_FOR = 1.0  # seconds without growth that count as "done"


def store_position(dsn: str) -> int:
    """The highest notification id stored (0 for an empty store)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [name for (name,) in conn.execute(LOG_TABLES).fetchall()]
        highest = [conn.execute(f'SELECT coalesce(max(notification_id), 0) FROM "{t}"').fetchone()
                   for t in tables]
        return max([row[0] for row in highest if row] or [0])


def wait_for(check, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


class KafkaProbe:
    """Records on a topic, and those its consumer groups have not committed yet; one admin
    client and one consumer for every look (a SCRAM login costs CPU)."""

    def __init__(self, connection: KafkaConnection, topic: str = DISPUTES_EVENTS):
        self.connection, self.topic = connection, topic

    async def __aenter__(self) -> "KafkaProbe":
        self.partitions = await partitions_of(self.connection, self.topic)
        self.admin = admin_client(self.connection, "bench-probe")
        self.consumer = AIOKafkaConsumer(**self.connection.client_options(), group_id=None)
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *_) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def records(self) -> int:
        return sum((await self.consumer.end_offsets(self.partitions)).values())

    async def lag(self) -> int:
        ends = await self.consumer.end_offsets(self.partitions)
        total = 0
        for group in CONSUMER_GROUPS.get(self.topic, ()):
            committed = await self.admin.list_consumer_group_offsets(group, partitions=self.partitions)
            total += sum(ends[tp] - max(0, committed[tp].offset if tp in committed else 0)
                         for tp in self.partitions)
        return total

    async def until_quiet(self, timeout: float, at_least: int = 0, quiet_for: float = QUIET_FOR) -> bool:
        """Until the topic holds at least `at_least` records and stopped growing for `quiet_for` s."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = await self.records()
            if now != last:
                last, since = now, time.monotonic()
            elif now >= at_least and time.monotonic() - since >= quiet_for:
                return True
            await asyncio.sleep(0.2)
        return False

    async def until_consumed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.lag() == 0:
                return True
            await asyncio.sleep(0.5)
        return False


async def _relayed_and_consumed(connection: KafkaConnection, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    async with KafkaProbe(connection) as probe:
        if not await probe.until_quiet(timeout):
            return "the relay still publishing"
        if not await probe.until_consumed(max(0.0, deadline - time.monotonic())):
            return "consumers of disputes.events behind"
    return None


async def topic_quiet(connection: KafkaConnection, topic: str, timeout: float, quiet_for: float) -> bool:
    """Until `topic` has records and got no new one for `quiet_for` seconds."""
    async with KafkaProbe(connection, topic) as probe:
        return await probe.until_quiet(timeout, at_least=1, quiet_for=quiet_for)


async def _consumed(connection: KafkaConnection, topic: str, timeout: float) -> bool:
    async with KafkaProbe(connection, topic) as probe:
        return await probe.until_consumed(timeout)


def consumed(connection: KafkaConnection, topic: str, timeout: float) -> bool:
    """Every consumer group of `topic` committed all of it."""
    return asyncio.run(_consumed(connection, topic, timeout))


def settle(dsn: str, connection: KafkaConnection, timeout: float = 60.0) -> str | None:
    """Wait until the store stopped growing, then disputes.events, then its consumers read it
    all; None when all that happened in time, else what was still busy (the run goes on)."""
    deadline = time.monotonic() + timeout
    last = [-1]

    def store_quiet() -> bool:
        now = store_position(dsn)
        quiet, last[0] = now == last[0], now
        return quiet

    if not wait_for(store_quiet, timeout, interval=QUIET_FOR):
        return "the store still growing"
    return asyncio.run(_relayed_and_consumed(connection, max(0.0, deadline - time.monotonic())))
