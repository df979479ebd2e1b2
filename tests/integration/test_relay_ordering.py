"""The relay on real PostgreSQL and Kafka, while many disputes are written at once."""

import asyncio
import time
from datetime import datetime, timezone
from uuid import uuid4

import pytest

from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.common.topics import UNLIMITED_RETENTION
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import Relay, RelayPosition
from services.dispute.relay.lag import measure_lag
from services.dispute.relay.lock import PostgresRelayLock
from services.dispute.relay.wakeup import ListenWakeup
from services.dispute.settings import DisputeSettings
from tests.support.kafka import eventually
from tests.support.relay_streams import (check_records, open_disputes, read_to_end,
                                         stored_public_event_ids, write_concurrently)

pytestmark = pytest.mark.integration


@pytest.fixture
async def store_and_topic(pg_url, kafka):
    app = build_application(DisputeSettings(database_url=pg_url, **kafka.settings()))
    position = RelayPosition(sqlalchemy_engine(pg_url), f"disputes.events.{uuid4().hex[:8]}")
    position.create_tables()
    await ensure_topics(kafka.admin, {position.name: UNLIMITED_RETENTION}, partitions=6)
    return app, position


async def start_relay(app, position, pg_url, bootstrap, poll_interval=0.2):
    producer = idempotent_producer(bootstrap, "test-relay")
    wakeup = ListenWakeup(pg_url, app.recorder.channel_name)
    await producer.start()
    await wakeup.start()
    relay = Relay(app, producer, position, batch_size=50, poll_interval=poll_interval,
                  topic=position.name, lock=PostgresRelayLock(pg_url, position.name), wakeup=wakeup)
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping))

    async def stop():
        stopping.set()
        await task
        await wakeup.stop()
        await producer.stop()
    return relay, stop


def drained(app, position):
    return lambda: measure_lag(app, position, datetime.now(timezone.utc)).events_pending == 0


async def test_every_dispute_reaches_kafka_in_version_order_exactly_once(store_and_topic, pg_url, kafka):
    app, position = store_and_topic
    disputes = open_disputes(app, 20)
    _, stop = await start_relay(app, position, pg_url, kafka.admin)
    try:
        await asyncio.to_thread(write_concurrently, app, disputes, per_dispute=30)
        assert await eventually(drained(app, position), timeout=60)
    finally:
        await stop()
    check = check_records(await read_to_end(kafka.admin, position.name))
    stored = stored_public_event_ids(app)
    print(f"relay: {len(stored)} events of 20 disputes written concurrently, all in order")
    assert len(stored) == 20 * 31
    assert check.event_ids == stored
    assert (check.out_of_order, check.changed_duplicates, check.duplicates) == ([], [], 0)


async def test_a_new_event_is_published_on_notify_not_after_the_poll_interval(
        store_and_topic, pg_url, kafka):
    app, position = store_and_topic
    _, stop = await start_relay(app, position, pg_url, kafka.admin, poll_interval=30)
    try:
        await asyncio.sleep(0.5)  # the relay is idle, waiting
        started = time.monotonic()
        await asyncio.to_thread(open_disputes, app, 1)
        assert await eventually(drained(app, position), timeout=10, interval=0.01)
        elapsed = time.monotonic() - started
    finally:
        await stop()
    print(f"relay: published {elapsed * 1000:.0f} ms after the save (poll interval 30 s)")
    assert elapsed < 2, f"published after {elapsed:.2f}s"
