"""Waiting for the system to be quiet between phases, so one phase's backlog (commands still
being written, events still being relayed or consumed) is not billed to the next.

Only what any version of the system shows from outside is looked at: the store's notification
log (SQL), the records on Kafka and the consumer groups' committed offsets; never a table or a
position name of the relay's own, which a rewrite (shards) may change.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

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
POLL = 0.2  # seconds between two looks


def store_position(dsn: str) -> int:
    """The highest notification id stored (0 for an empty store)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return _position(conn)


def _position(conn) -> int:
    tables = [name for (name,) in conn.execute(LOG_TABLES).fetchall()]
    highest = [conn.execute(f'SELECT coalesce(max(notification_id), 0) FROM "{t}"').fetchone() for t in tables]
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

    async def committed(self, group: str) -> dict[int, int]:
        """Per partition of the topic, the next offset `group` will read (0: nothing committed)."""
        offsets = await self.admin.list_consumer_group_offsets(group, partitions=self.partitions)
        return {tp.partition: max(0, offsets[tp].offset) if tp in offsets else 0 for tp in self.partitions}

    async def lag_by_group(self) -> dict[str, int]:
        """Per consumer group of the topic, the records it has not committed yet."""
        ends = await self.consumer.end_offsets(self.partitions)
        lags = {}
        for group in CONSUMER_GROUPS.get(self.topic, ()):
            committed = await self.admin.list_consumer_group_offsets(group, partitions=self.partitions)
            lags[group] = sum(ends[tp] - max(0, committed[tp].offset if tp in committed else 0)
                              for tp in self.partitions)
        return lags

    async def until_quiet(self, timeout: float, at_least: int = 0, quiet_for: float = QUIET_FOR,
                          expected: int | None = None, expected_quiet_for: float = QUIET_FOR) -> bool:
        """Until the topic holds at least `at_least` records and stopped growing for `quiet_for` s;
        once it holds the `expected` records (when known), `expected_quiet_for` s is enough."""
        deadline, stillness = time.monotonic() + timeout, Stillness()
        while time.monotonic() < deadline:
            records = await self.records()
            quiet = stillness.unchanged_for(records, time.monotonic())
            if done_growing(records, quiet, at_least, quiet_for, expected, expected_quiet_for):
                return True
            await asyncio.sleep(POLL)
        return False

    async def until_consumed(self, timeout: float, cut_hopeless: bool = False) -> dict[str, int]:
        """Until every group committed the whole topic, at most `timeout` s (with `cut_hopeless`,
        less once the groups are seen not to make it in time): what each had not."""
        started = time.monotonic()
        deadline, first = started + timeout, None
        while True:
            lags, now = await self.lag_by_group(), time.monotonic()
            first = first or lags
            if not any(lags.values()) or now >= deadline:
                return lags
            if cut_hopeless and hopeless(sum(first.values()), sum(lags.values()), now - started, deadline - now):
                return lags
            await asyncio.sleep(0.25)


class Stillness:
    """For how long a reading has stayed the same; the caller gives the time (pure, so the
    rule is tested without waiting)."""

    def __init__(self) -> None:
        self.last: object = None
        self.since = 0.0

    def unchanged_for(self, reading: object, now: float) -> float:
        if self.last is None or reading != self.last:
            self.last, self.since = reading, now
        return now - self.since


class GroupProgress:
    """What a consumer group has committed on a topic, looked at every POLL seconds while in
    use: `await progress.read(partition, offset)` returns once the group is past that record
    (at most `timeout` s after the start: then the caller goes on, as if it had)."""

    def __init__(self, probe: KafkaProbe, group: str, timeout: float):
        self.probe, self.group = probe, group
        self.committed: dict[int, int] = {}
        self.changed = asyncio.Condition()
        self.deadline = time.monotonic() + timeout

    async def __aenter__(self) -> "GroupProgress":
        self.task = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *_) -> None:
        self.task.cancel()

    async def _follow(self) -> None:
        while time.monotonic() < self.deadline:
            committed = await self.probe.committed(self.group)
            async with self.changed:
                self.committed = committed
                self.changed.notify_all()
            await asyncio.sleep(POLL)
        async with self.changed:
            self.changed.notify_all()

    def past(self, partition: int, offset: int) -> bool:
        return self.committed.get(partition, 0) > offset or time.monotonic() >= self.deadline

    async def read(self, partition: int, offset: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.past(partition, offset))


WATCHED_BEFORE_CUT = 2.0  # seconds of a backlog's drain seen before its pace is trusted


def hopeless(backlog_then: int, backlog_now: int, watched: float, left: float) -> bool:
    """Whether a backlog that went from `backlog_then` to `backlog_now` records in `watched`
    seconds cannot be gone in the `left` seconds at that pace: waiting longer would not settle
    the system, only shorten the drain that the next phase shares the cores with anyway."""
    if watched < WATCHED_BEFORE_CUT or backlog_now == 0:
        return False
    pace = (backlog_then - backlog_now) / watched
    return pace <= 0 or backlog_now / pace > left


def done_growing(records: int, quiet: float, at_least: int, quiet_for: float,
                 expected: int | None = None, expected_quiet_for: float = QUIET_FOR) -> bool:
    """A topic of `records` that has not grown for `quiet` s is done: it holds `at_least` and
    was quiet for `quiet_for`, or it holds the `expected` records and was quiet that long."""
    if records >= at_least and quiet >= quiet_for:
        return True
    return expected is not None and records >= expected and quiet >= expected_quiet_for


@dataclass(frozen=True)
class Settled:
    """How a settle ended: its seconds, what was still busy (None: all quiet in time) and, per
    consumer group of disputes.events, the records it had not committed when the wait ended."""

    seconds: float
    busy: str | None = None
    behind: dict[str, int] = field(default_factory=dict)


def behind_text(behind: dict[str, int]) -> str:
    return ", ".join(f"{group} {count:,} records" for group, count in behind.items() if count)


async def _store_and_relay_quiet(dsn: str, probe: KafkaProbe, timeout: float) -> str | None:
    """Until neither the store nor disputes.events grew for QUIET_FOR seconds (both watched
    at once: the relay follows the store within a batch); else which was still growing."""
    import psycopg

    deadline, stillness = time.monotonic() + timeout, Stillness()
    store_then, store_moved = -1, True
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            store, records = _position(conn), await probe.records()
            if stillness.unchanged_for((store, records), time.monotonic()) >= QUIET_FOR:
                return None
            store_moved, store_then = store != store_then, store
            await asyncio.sleep(POLL)
    return "the store still growing" if store_moved else "the relay still publishing"


async def _settle(dsn: str, connection: KafkaConnection, timeout: float, consumers_timeout: float,
                  cut_hopeless: bool) -> Settled:
    started = time.monotonic()
    async with KafkaProbe(connection) as probe:
        busy = await _store_and_relay_quiet(dsn, probe, timeout)
        if busy:
            return Settled(time.monotonic() - started, busy, await probe.lag_by_group())
        left = min(consumers_timeout, max(0.0, started + timeout - time.monotonic()))
        behind = await probe.until_consumed(left, cut_hopeless)
    busy = f"consumers of disputes.events behind ({behind_text(behind)})" if any(behind.values()) else None
    return Settled(time.monotonic() - started, busy, behind)


async def topic_quiet(connection: KafkaConnection, topic: str, timeout: float, quiet_for: float,
                      expected: int | None = None, expected_quiet_for: float = QUIET_FOR) -> bool:
    """Until `topic` has records and got no new one for `quiet_for` seconds (for
    `expected_quiet_for` s once it holds `expected` records)."""
    async with KafkaProbe(connection, topic) as probe:
        return await probe.until_quiet(timeout, at_least=1, quiet_for=quiet_for, expected=expected,
                                       expected_quiet_for=expected_quiet_for)


async def _consumed(connection: KafkaConnection, topic: str, timeout: float) -> bool:
    async with KafkaProbe(connection, topic) as probe:
        return not any((await probe.until_consumed(timeout)).values())


def consumed(connection: KafkaConnection, topic: str, timeout: float) -> bool:
    """Every consumer group of `topic` committed all of it."""
    return asyncio.run(_consumed(connection, topic, timeout))


def settle(dsn: str, connection: KafkaConnection, timeout: float = 60.0,
           consumers_timeout: float | None = None, cut_hopeless: bool = False) -> Settled:
    """Wait until the store and disputes.events stopped growing, then until its consumers read
    it all (at most `consumers_timeout` of the `timeout`; with `cut_hopeless`, not once they
    are seen not to make it in that time); how it ended (the run goes on)."""
    return asyncio.run(_settle(dsn, connection, timeout, timeout if consumers_timeout is None
                               else consumers_timeout, cut_hopeless))


def emails_unsent(dsn: str) -> int:
    """E-mails in the notification service's outbox neither sent nor given up (0 without the
    table yet)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM email_outbox WHERE sent_at IS NULL AND failed_at IS NULL").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return row[0] if row else 0


def emails_sent_out(dsn: str, timeout: float) -> tuple[float, int]:
    """Wait (at most `timeout`) for the outbox to empty: a phase's e-mails are its own cost, and
    left unsent they would be sent on the next phase's CPU. (seconds waited, e-mails left)"""
    started = time.monotonic()
    while (left := emails_unsent(dsn)) and time.monotonic() - started < timeout:
        time.sleep(0.2)
    return time.monotonic() - started, left
