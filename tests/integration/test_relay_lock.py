"""Only one relay publishes at a time; a standby takes over when the active one goes."""

import asyncio
from uuid import uuid4

import psycopg
import pytest

from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.common.topics import UNLIMITED_RETENTION
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import Relay, RelayPosition
from services.dispute.relay.lock import FileRelayLock, PostgresRelayLock, relay_lock_for
from services.dispute.settings import DisputeSettings
from tests.support.kafka import eventually
from tests.support.relay_streams import (check_records, open_disputes, read_to_end,
                                         stored_public_event_ids, write_concurrently)

pytestmark = pytest.mark.integration


def terminate_session(pg_url: str, lock: PostgresRelayLock) -> None:
    """What PostgreSQL does when the holder's process dies: its session ends."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [lock._conn.info.backend_pid])


async def test_a_second_postgres_lock_waits_until_the_holders_session_ends(pg_url):
    first, second = PostgresRelayLock(pg_url, "t"), PostgresRelayLock(pg_url, "t")
    assert await first.try_acquire() and not await second.try_acquire()
    await asyncio.to_thread(terminate_session, pg_url, first)
    assert await eventually(second.try_acquire, timeout=5)
    assert not await first.still_held()
    await first.release(), await second.release()


async def test_a_second_file_lock_waits_until_the_holder_releases(tmp_path):
    lock = relay_lock_for(f"sqlite:///{tmp_path}/dispute.sqlite", "t")
    other = FileRelayLock(lock.path)
    assert lock.path == f"{tmp_path}/dispute.sqlite.relay.lock"
    assert await lock.try_acquire() and not await other.try_acquire()
    await lock.release()
    assert await other.try_acquire()
    await other.release()


class RunningRelay:
    def __init__(self, app, position, pg_url, bootstrap):
        self.producer = idempotent_producer(bootstrap, f"relay-{uuid4().hex[:4]}")
        self.lock = PostgresRelayLock(pg_url, position.name)
        self.relay = Relay(app, self.producer, position, batch_size=20, poll_interval=0.05,
                           topic=position.name, lock=self.lock)
        self.stopping = asyncio.Event()

    async def start(self) -> "RunningRelay":
        await self.producer.start()
        self.task = asyncio.create_task(self.relay.run(self.stopping))
        return self

    def active(self) -> bool:
        return self.relay.metrics.registry.get_sample_value("dispute_relay_active") == 1

    async def stop(self) -> None:
        self.stopping.set()
        await self.task
        await self.producer.stop()


async def test_two_relays_publish_one_at_a_time_and_the_standby_takes_over(pg_url, kafka):
    app = build_application(DisputeSettings(database_url=pg_url, **kafka.settings()))
    position = RelayPosition(sqlalchemy_engine(pg_url), f"disputes.events.{uuid4().hex[:8]}")
    position.create_tables()
    await ensure_topics(kafka.admin, {position.name: UNLIMITED_RETENTION}, partitions=6)
    disputes = open_disputes(app, 10)
    relays = [await RunningRelay(app, position, pg_url, kafka.admin).start() for _ in range(2)]
    try:
        writing = asyncio.create_task(asyncio.to_thread(write_concurrently, app, disputes, 30))
        assert await eventually(lambda: any(r.active() for r in relays), timeout=10)
        active, standby = sorted(relays, key=lambda r: not r.active())
        assert not standby.active()
        await asyncio.sleep(0.3)  # mid-stream
        await asyncio.to_thread(terminate_session, pg_url, active.lock)
        active.stopping.set()
        assert await eventually(standby.active, timeout=10)
        await writing
        assert await eventually(lambda: position.get() == app.recorder.max_notification_id(), timeout=30)
    finally:
        for relay in relays:
            await relay.stop()
    check = check_records(await read_to_end(kafka.admin, position.name))
    assert check.event_ids == stored_public_event_ids(app)
    assert (check.out_of_order, check.changed_duplicates) == ([], [])
