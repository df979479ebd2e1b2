"""`disputectl kafka replay` on a real broker: the notification and refund groups reprocess a
dispute's events from the start, and nobody gets a second e-mail or a second refund.

The events are real: a dispute opened and settled in the dispute application, published by the
relay to a topic of this test's own, consumed by the notification and refund services.
"""

from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.dispute.domain import Actor, Role
from services.dispute.adapters.kafka_replay import GroupHasMembers, replay_group
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.relay.relay import Relay, RelayPosition
from services.dispute.settings import DisputeSettings
from services.notification.main import create_app as create_notification
from services.notification.email_outbox import EmailOutbox
from services.notification.settings import NotificationSettings
from services.refund.main import create_app as create_refund
from services.refund.settings import RefundSettings
from tests.support.payment_simulator import Simulator
from tests.support.kafka import eventually
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET

pytestmark = pytest.mark.integration
GROUPS = ("notification", "refund")




async def publish_order(connection, topic: str, placed) -> None:
    producer = idempotent_producer(connection, "test-orders")
    await producer.start()
    try:
        await producer.send_and_wait(topic, placed.model_dump_json().encode(), key=placed.order_id.encode())
    finally:
        await producer.stop()


@asynccontextmanager
async def running(*apps):
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield


async def committed_to_the_end(connection, group: str, topic: str) -> bool:
    admin = AIOKafkaAdminClient(**connection.client_options())
    consumer = AIOKafkaConsumer(**connection.client_options())
    await admin.start(), await consumer.start()
    try:
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        except GroupCoordinatorNotAvailableError:  # a fresh broker: __consumer_offsets not made yet
            return False
        committed = {tp: o.offset for tp, o in offsets.items() if tp.topic == topic}
        ends = await consumer.end_offsets(list(committed))
    finally:
        await admin.close(), await consumer.stop()
    return bool(committed) and all(committed[tp] == ends[tp] for tp in committed) and sum(ends.values()) > 0


@pytest.fixture
def settled_dispute(tmp_path):
    """Opened (full refund of 100.00 USD), then the seller accepts the claim: Resolved."""
    disputes = build_application(DisputeSettings(database_url=f"sqlite:///{tmp_path}/disputes.sqlite"))
    placed = order_placed(order_id=f"O-{uuid4().hex[:8]}")
    order = OrderBook.facts_from(placed)
    dispute = disputes.open_dispute(order=order, item_id="I-1", actor=Actor(Role.BUYER, "B-1"),
                                    reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                                    description="", at=NOW)
    at = NOW + timedelta(days=1)
    disputes.execute(dispute.id, at, lambda d: d.accept_claim(
        actor=Actor(Role.SELLER, "S-1"), at=at, policy=disputes.policy))
    return disputes, placed, tmp_path


async def test_replayed_groups_send_no_second_email_and_pay_no_second_refund(settled_dispute, postgres, kafka):
    disputes, placed, tmp_path = settled_dispute
    order_id = placed.order_id
    run = uuid4().hex[:8]
    topic, orders = f"it-{run}.disputes.events", f"it-{run}.orders.events"
    await ensure_topics(kafka.admin, {topic: {}, orders: {}, f"it-{run}.refunds.events": {}}, 3)
    await publish_order(kafka.admin, orders, placed)  # the refund service pays known orders only
    notification = NotificationSettings(
        database_url=postgres.create_database(f"replay_notification_{run}"), **kafka.settings(),
        events_topic=topic, topic_partitions=3, smtp_port=free_port(), email_backoff_initial=300,
        jwt_secret=SECRET)
    with Simulator(tmp_path) as simulator:
        refund = RefundSettings(
            database_url=postgres.create_database(f"replay_refund_{run}"), **kafka.settings(),
            topic_partitions=3, disputes_topic=topic, refunds_topic=f"it-{run}.refunds.events",
            orders_topic=orders,
            provider_url=simulator.url, provider_timeout=2)
        outbox = EmailOutbox(sqlalchemy_engine(notification.database_url))
        before_anything = datetime.now(timezone.utc) - timedelta(seconds=5)

        async with running(create_notification(notification), create_refund(refund)):
            producer = idempotent_producer(kafka.admin, client_id=f"relay-{run}")
            await producer.start()
            relay = Relay(disputes, producer, RelayPosition(sqlalchemy_engine(f"sqlite:///{tmp_path}/relay.sqlite"), topic),
                          topic=topic)
            relay.position.create_tables()
            assert await relay.publish_next_batch() == 4  # Opened, SellerResponded, ClaimAccepted, Resolved
            await producer.stop()
            for group in GROUPS:
                assert await eventually(lambda: committed_to_the_end(kafka.admin, group, topic))
            with pytest.raises(GroupHasMembers):
                await replay_group(kafka.admin, "refund", before_anything, [topic])
        emails, refunds = len(outbox.emails()), simulator.refunds(order_id)
        assert emails > 0 and len(refunds) == 1

        for group in GROUPS:
            resets = await replay_group(kafka.admin, group, before_anything, [topic])
            assert {r.new_offset for r in resets} == {0} and sum(r.old_offset or 0 for r in resets) == 4

        async with running(create_notification(notification), create_refund(refund)):
            for group in GROUPS:
                assert await eventually(lambda: committed_to_the_end(kafka.admin, group, topic))
        assert len(outbox.emails()) == emails
        assert simulator.refunds(order_id) == refunds
