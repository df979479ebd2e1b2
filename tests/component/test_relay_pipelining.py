"""The relay pipelines its batches: the next batch is read, translated and queued on the
producer while the one before waits for Kafka's acknowledgement; yet each position is saved
only after its own batch (and everything before it) was acknowledged, and in order."""

import asyncio
from uuid import uuid4

from services.common.database import sqlalchemy_engine
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import Relay, RelayPosition
from services.dispute.settings import DisputeSettings
from tests.support.relay_streams import open_disputes


class HeldProducer:
    """aiokafka's `send`: queued at once, acknowledged only when the test says so."""

    def __init__(self):
        self.queued: list[tuple[bytes, asyncio.Future]] = []
        self.more = asyncio.Event()

    async def send(self, topic, value=None, key=None, headers=None):
        acked = asyncio.get_running_loop().create_future()
        self.queued.append((key, acked))
        self.more.set()
        return acked

    async def wait_for(self, count: int) -> None:
        while len(self.queued) < count:
            self.more.clear()
            await self.more.wait()

    def acknowledge(self, count: int) -> None:
        for _, acked in self.queued[:count]:
            if not acked.done():
                acked.set_result(None)


async def test_the_next_batch_is_queued_before_the_first_is_acknowledged_and_positions_follow_acks(tmp_path):
    url = f"sqlite:///{tmp_path}/store.sqlite"
    app = build_application(DisputeSettings(database_url=url))
    open_disputes(app, 6)  # six DisputeOpened: two batches of three
    position = RelayPosition(sqlalchemy_engine(url), f"test-{uuid4().hex[:6]}")
    position.create_tables()
    producer, stopping = HeldProducer(), asyncio.Event()
    relay = asyncio.create_task(Relay(app, producer, position, batch_size=3, poll_interval=0.05).run(stopping))
    try:
        await asyncio.wait_for(producer.wait_for(6), 30)  # before: only 3, waiting for their acks
        assert position.get() == 0  # nothing acknowledged, nothing saved
        producer.acknowledge(3)
        while position.get() != 3:
            await asyncio.sleep(0.01)
        producer.acknowledge(6)
        while position.get() != 6:
            await asyncio.sleep(0.01)
    finally:
        stopping.set()
        producer.acknowledge(len(producer.queued))
        await asyncio.wait_for(relay, 30)
    assert len(producer.queued) == 6  # each record queued once


async def test_a_position_is_never_saved_past_an_unacknowledged_earlier_batch(tmp_path):
    url = f"sqlite:///{tmp_path}/store.sqlite"
    app = build_application(DisputeSettings(database_url=url))
    open_disputes(app, 6)
    position = RelayPosition(sqlalchemy_engine(url), f"test-{uuid4().hex[:6]}")
    position.create_tables()
    producer, stopping = HeldProducer(), asyncio.Event()
    relay = asyncio.create_task(Relay(app, producer, position, batch_size=3, poll_interval=0.05).run(stopping))
    try:
        await asyncio.wait_for(producer.wait_for(6), 30)
        for _, acked in producer.queued[3:]:
            acked.set_result(None)  # the second batch acknowledged first
        await asyncio.sleep(0.2)
        assert position.get() == 0
    finally:
        stopping.set()
        producer.acknowledge(len(producer.queued))
        await asyncio.wait_for(relay, 30)
    assert position.get() == 6
