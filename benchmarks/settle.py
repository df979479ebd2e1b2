"""Waiting for the system to be quiet between phases, so one phase's backlog (commands still
being written, events still being relayed or consumed) is not billed to the next."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer

from benchmarks.watch import partitions_of

from contracts.topics import DISPUTES_EVENTS
from services.common.kafka import KafkaConnection, admin_client
from services.common.topics import CONSUMER_GROUPS

# Every table of the store with a notification log (the recorder's own name for it is not
# ours to rely on; shards, if any, are other databases).
LOG_TABLES = ("SELECT table_name FROM information_schema.columns WHERE column_name = 'notification_id' "
              "AND table_schema = current_schema()")


def store_position(dsn: str) -> int:
    """The highest notification id stored (0 for an empty store)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [name for (name,) in conn.execute(LOG_TABLES).fetchall()]
        return max([conn.execute(f'SELECT coalesce(max(notification_id), 0) FROM "{t}"').fetchone()[0]
                    for t in tables] or [0])


def relay_position(dsn: str, name: str = DISPUTES_EVENTS) -> int:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT position FROM relay_positions WHERE name = %s", (name,)).fetchone()
        return row[0] if row else 0


def wait_for(check, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


class LagProbe:
    """Records of disputes.events not yet committed by its consumer groups, added up; one
    admin client and one consumer for every probe (a SCRAM login costs CPU)."""

    def __init__(self, connection: KafkaConnection, topic: str = DISPUTES_EVENTS):
        self.connection, self.topic = connection, topic

    async def __aenter__(self) -> "LagProbe":
        self.partitions = await partitions_of(self.connection, self.topic)
        self.admin = admin_client(self.connection, "bench-lag")
        self.consumer = AIOKafkaConsumer(**self.connection.client_options(), group_id=None)
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *_) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def lag(self) -> int:
        ends = await self.consumer.end_offsets(self.partitions)
        total = 0
        for group in CONSUMER_GROUPS.get(self.topic, ()):
            committed = await self.admin.list_consumer_group_offsets(group, partitions=self.partitions)
            total += sum(ends[tp] - max(0, committed[tp].offset if tp in committed else 0)
                         for tp in self.partitions)
        return total


async def _consumers_caught_up(connection: KafkaConnection, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    async with LagProbe(connection) as probe:
        while time.monotonic() < deadline:
            if await probe.lag() == 0:
                return True
            await asyncio.sleep(0.5)
    return False


def settle(dsn: str, connection: KafkaConnection, timeout: float = 60.0) -> str | None:
    """Wait until the store stopped growing, the relay published all of it and the consumers
    of disputes.events read it all; None when it did, else what was still busy (the run goes
    on)."""
    deadline = time.monotonic() + timeout
    last = [-1]

    def store_quiet() -> bool:
        now = store_position(dsn)
        quiet, last[0] = now == last[0], now
        return quiet

    if not wait_for(store_quiet, timeout, interval=1.0):
        return "the store still growing"
    if not wait_for(lambda: relay_position(dsn) >= last[0], max(0.0, deadline - time.monotonic())):
        return "the relay behind the store"
    if not asyncio.run(_consumers_caught_up(connection, max(0.0, deadline - time.monotonic()))):
        return "consumers of disputes.events behind"
    return None
