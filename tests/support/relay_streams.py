"""Many disputes with many events, written concurrently; and what the relay's topic must hold."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from uuid import uuid4

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts.envelope import EventEnvelope, event_id_for
from services.dispute.domain import Actor, Role
from services.dispute.adapters.order_book import OrderBook
from services.dispute.adapters.translation import is_public
from tests.support.orders import NOW, order_placed

BUYER = Actor(Role.BUYER, "B-1")


def open_disputes(app, count: int) -> list:
    prefix = uuid4().hex[:6]
    return [app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{prefix}-{n}")),
                             item_id="I-1", actor=BUYER, reason="DAMAGED", request="FULL_REFUND",
                             request_amount=None, description="", at=NOW).id
            for n in range(count)]


def post_messages(app, dispute_id, count: int) -> None:
    for n in range(count):
        message_id = uuid4().hex
        app.execute(dispute_id, NOW, lambda d: d.post_message(
            message_id=message_id, text=f"message {n}", actor=BUYER, at=NOW))


def write_concurrently(app, dispute_ids, per_dispute: int, threads: int = 8) -> None:
    """Each dispute written by one thread at a time; the disputes interleave in the log."""
    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(post_messages, app, d, per_dispute) for d in dispute_ids]:
            done.result()


def stored_public_event_ids(app) -> set:
    ids, start = set(), 0
    while batch := app.recorder.select_notifications(start, 500, inclusive_of_start=False):
        for notification in batch:
            if is_public(app.mapper.to_domain_event(notification)):
                ids.add(event_id_for(notification.originator_id, notification.originator_version))
        start = batch[-1].id
    return ids


async def read_to_end(connection, topic: str) -> list:
    """Every record on `topic` up to its current end offsets, partition by partition in order."""
    consumer = AIOKafkaConsumer(topic, **connection.client_options(), group_id=f"check-{uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        records = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


@dataclass
class TopicCheck:
    """What a consumer that drops duplicates by event_id would see, and what it would not."""

    event_ids: set = field(default_factory=set)
    duplicates: int = 0
    out_of_order: list = field(default_factory=list)
    changed_duplicates: list = field(default_factory=list)


def check_records(records) -> TopicCheck:
    check, first_value, last_version = TopicCheck(), {}, defaultdict(int)
    for record in records:
        envelope = EventEnvelope.model_validate_json(record.value)
        if envelope.event_id in first_value:
            check.duplicates += 1
            if first_value[envelope.event_id] != record.value:
                check.changed_duplicates.append(envelope.event_id)
            continue
        first_value[envelope.event_id] = record.value
        if envelope.dispute_version <= last_version[envelope.dispute_id]:
            check.out_of_order.append((envelope.dispute_id, envelope.dispute_version))
        last_version[envelope.dispute_id] = envelope.dispute_version
    check.event_ids = set(first_value)
    return check


async def topic_settings(connection, topic: str) -> tuple[int, dict[str, str]]:
    """(partition count, topic configs) as the broker reports them."""
    admin = AIOKafkaAdminClient(**connection.client_options())
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = response.to_object()["resources"][0]["config_entries"]
        return len(described["partitions"]), {e["config_names"]: e["config_value"] for e in entries}
    finally:
        await admin.close()
