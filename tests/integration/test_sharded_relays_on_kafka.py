"""The relay process over an event store of two PostgreSQL shards: one relay per shard, each
publishing its own disputes to the one topic, keyed by dispute id; a shard whose database is
away stops nobody else; metrics per shard."""

import asyncio
from collections import defaultdict
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.envelope import EventEnvelope
from infra.ports import free_port
from services.common.kafka import ensure_topics
from services.dispute.adapters.event_store import command_context
from services.dispute.adapters.order_book import OrderBook
from services.dispute.adapters.shards import shard_apps
from services.dispute.bootstrap import build_disputes
from services.dispute.domain import Actor, Role
from services.dispute.entrypoints.relay_process import run_relays
from services.dispute.settings import DisputeSettings
from tests.support.kafka import eventually, read_topic
from tests.support.orders import NOW, order_placed
from tests.support.shards import orders_per_shard

pytestmark = pytest.mark.integration
BUYER = Actor(Role.BUYER, "B-1")


@pytest.fixture
def two_shards(postgres, pg_url, kafka):
    """Settings of a service database and two shard databases, with topics of their own."""
    suffix = uuid4().hex[:8]
    base = pg_url.rsplit("/", 1)[1]
    shards = [postgres.create_database(f"{base}_s{i}") for i in range(2)]
    settings = DisputeSettings(database_url=pg_url, shard_urls=",".join(shards), **kafka.settings(),
                               events_topic=f"disputes.events.{suffix}",
                               audit_topic=f"disputes.audit.{suffix}",
                               relay_metrics_port=free_port(), relay_poll_interval=0.05)
    asyncio.run(ensure_topics(kafka.admin, {settings.events_topic: {}, settings.audit_topic: {}}, 3))
    return settings


def open_disputes(disputes, order_ids) -> list[UUID]:
    opened = []
    for order_id in order_ids:
        with command_context(correlation_id=f"corr-{order_id}"):
            opened.append(disputes.open_dispute(
                order=OrderBook.facts_from(order_placed(order_id=order_id)), item_id="I-1",
                actor=BUYER, reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                description="", at=NOW).id)
    return opened


async def relaying(settings, until):
    """Run the relay process until `until()` returns something; that."""
    stopping = asyncio.Event()
    relays = asyncio.create_task(run_relays(settings, stopping))
    try:
        return await eventually(until, timeout=30)
    finally:
        stopping.set()
        await relays


def opened_per_dispute(records) -> dict[UUID, list[str]]:
    seen = defaultdict(list)
    for record in records:
        envelope = EventEnvelope.model_validate_json(record.value)
        assert record.key == str(envelope.dispute_id).encode()
        seen[envelope.dispute_id].append(envelope.event_type)
    return seen


async def test_each_shards_relay_publishes_the_disputes_it_holds(two_shards, kafka):
    disputes = build_disputes(two_shards)
    orders = orders_per_shard(two_shards, shards=2, per_shard=2)
    opened = open_disputes(disputes, orders[0] + orders[1])
    records = await relaying(two_shards, lambda: _records(kafka, two_shards, 4))
    assert opened_per_dispute(records) == {d: ["DisputeOpened"] for d in opened}
    assert [shard.recorder.max_notification_id() for shard in shard_apps(disputes)] == [2, 2]


async def test_a_shard_whose_database_is_away_does_not_stop_the_other_shards_relay(
        two_shards, postgres, kafka):
    disputes = build_disputes(two_shards)
    orders = orders_per_shard(two_shards, shards=2, per_shard=2)
    opened = open_disputes(disputes, orders[0])
    away = two_shards.model_copy(update={"shard_urls": ",".join(
        [two_shards.shard_database_urls()[0], postgres.dsn("no_such_database")])})
    records = await relaying(away, lambda: _records(kafka, two_shards, 2))
    assert opened_per_dispute(records) == {d: ["DisputeOpened"] for d in opened}


async def test_the_relay_metrics_carry_the_shard_label(two_shards):
    disputes = build_disputes(two_shards)
    orders = orders_per_shard(two_shards, shards=2, per_shard=1)
    open_disputes(disputes, orders[0] + orders[1])
    metrics = await relaying(two_shards, lambda: _published_on_both(two_shards.relay_metrics_port))
    assert 'dispute_relay_events_pending{shard="0"} 0.0' in metrics
    assert 'dispute_relay_active{shard="1"} 1.0' in metrics


async def _records(kafka, settings, expect: int):
    records = await read_topic(kafka.admin, settings.events_topic, expect=expect, timeout=2)
    return records if len(records) >= expect else None


def _published_on_both(port: int) -> str | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    done = all(f'dispute_relay_events_published_total{{shard="{s}"}} 1.0' in text for s in (0, 1))
    return text if done else None
