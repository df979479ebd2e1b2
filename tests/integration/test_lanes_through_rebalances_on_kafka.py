"""Laned consumers (services/common/laned_subscriber.py) of one group on different topics, as the
dispute API's order and refund-result consumers share the group `dispute`, on a real broker:
while records flow and the lanes commit every 50 ms, a second member joins and a third joins and
leaves twice; the order consumer goes on to the last record and the group's committed offsets
reach the end. The lanes commit what finished as a rebalance starts and nothing until the new
assignment (their rebalance listener, exercised here for real). This did not reproduce the
stall seen once in `make bench` (the order consumer out of its group for minutes, commits
failing with IllegalGeneration every few seconds); it passes with the lanes before the listener
too, and guards that the listener keeps the consumers working through rebalances."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from services.common.kafka import ensure_topics, kafka_broker
from services.common.laned_subscriber import laned_subscriber
from tests.integration.test_laned_consumers_on_kafka import commits_reach_the_end
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration
RECORDS = 3000


async def test_members_joining_and_leaving_keep_no_consumer_out_of_the_group(kafka):
    orders, results = (f"it-{uuid4().hex[:8]}.{name}" for name in ("orders", "results"))
    group = f"shared-{uuid4().hex[:6]}"
    await ensure_topics(kafka.admin, {orders: {}, results: {}}, 3)
    handled: set[int] = set()

    async def take_order(record) -> None:
        await asyncio.sleep(0.005)  # a record takes a moment: the lanes commit as they go
        handled.add(int(record.body))

    async def take_result(record) -> None:
        pass

    first = kafka_broker(kafka.admin, "lanes-orders")
    order_lanes = laned_subscriber(first, orders, group, take_order, concurrency=2)
    second = kafka_broker(kafka.admin, "lanes-results")
    result_lanes = laned_subscriber(second, results, group, take_result)
    await first.start()
    try:
        for n in range(RECORDS):
            await first.publish(str(n).encode(), topic=orders, key=f"O-{n % 50}".encode())
        assert await eventually(lambda: len(handled) >= 50, timeout=30)
        await second.start()  # the group rebalances while the order lanes commit
        for _ in range(2):  # and again, as another member joins and leaves
            visitor = kafka_broker(kafka.admin, "lanes-visitor")
            visitor_lanes = laned_subscriber(visitor, results, group, take_result)
            await visitor.start()
            await asyncio.sleep(1.5)
            await visitor_lanes.stop()
            await visitor.stop()
        assert await eventually(lambda: len(handled) == RECORDS, timeout=60), \
            f"{len(handled)} of {RECORDS} records handled: the order consumer stopped"
        assert await commits_reach_the_end(kafka, group, orders)
    finally:
        await order_lanes.stop()
        await result_lanes.stop()
        await second.stop()
        await first.stop()
