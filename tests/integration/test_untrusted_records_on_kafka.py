"""Issue 9, point 2, on a real broker and PostgreSQL: forged records produced by any client
move no money and re-assign no order. The refund service learns orders from its own orders
topic; a dispute event that disagrees with them is dead-lettered with a `dlq-reason` and
counted in `refund_untrusted_resolutions_total`.

Each refund test has its own topics; behind each forged record a genuine dispute on the same
key (same partition) is resolved, so once its refund is announced the forged one was handled.
"""

from contextlib import asynccontextmanager
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest
from services.common.kafka import kafka_broker

from contracts.topics import ORDERS_EVENTS, dead_letter_topic
from services.common.database import sqlalchemy_engine
from services.common.topics import ensure_platform_topics
from services.dispute.entrypoints.kafka_subscribers import register_order_consumer
from services.dispute.domain import Actor, DomainError, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.settings import DisputeSettings
from services.refund.main import create_app
from services.refund.settings import RefundSettings
from tests.integration.test_refund_on_kafka import (Dispute, place, publish, results, settings,
                                                    simulator)
from tests.support.envelopes import resolved_payload
from tests.support.kafka import eventually, read_topic
from tests.support.orders import NOW, order_placed

pytestmark = pytest.mark.integration
__all__ = ["settings", "simulator"]  # fixtures shared with test_refund_on_kafka


@asynccontextmanager
async def refund_service(settings: RefundSettings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def metrics(app) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        return (await c.get("/metrics")).text


async def dead_letters(settings: RefundSettings, expect: int, topic: str | None = None) -> list:
    source = topic or settings.disputes_topic
    return await read_topic(settings.kafka_connection(), dead_letter_topic(source, "refund"), expect)


def reason_of(record) -> str:
    return dict(record.headers)["dlq-reason"].decode()


async def then_a_genuine_refund(settings: RefundSettings, key: bytes) -> None:
    """A genuine dispute published behind the forged records, on their key."""
    genuine = Dispute()
    await place(settings, genuine)
    await publish(settings, genuine.opened, genuine.resolved("10.00"), key=key)


async def test_a_forged_opening_and_resolution_for_an_unknown_order_pay_nothing(settings, simulator):
    forged = Dispute(paid="99999.00")
    forged.order_id = "O-chosen-by-the-forger"
    opened = forged.event("DisputeOpened", **{**forged.opened.payload, "order_id": forged.order_id})
    resolved = forged.resolved("99999.00")
    async with refund_service(settings.model_copy(update={"unknown_order_wait": 2.0})) as app:
        await publish(settings, opened, resolved, key=forged.id.bytes)
        await then_a_genuine_refund(settings, key=forged.id.bytes)
        [issued] = await results(settings, expect=1)
        exposed = await metrics(app)
    [dead] = await dead_letters(settings, expect=1)
    assert (dead.value, reason_of(dead)) == (resolved.kafka_value(), "ORDER_UNKNOWN")
    assert simulator.refunds(forged.order_id) == [] and issued.amount == Decimal("10.00")
    assert 'refund_untrusted_resolutions_total{reason="ORDER_UNKNOWN"} 1.0' in exposed


async def test_a_resolution_beyond_what_the_order_paid_is_refused_not_capped(settings, simulator):
    dispute = Dispute(paid="100.00")
    async with refund_service(settings) as app:
        await place(settings, dispute)
        await publish(settings, dispute.opened, dispute.resolved("99999.00"), key=dispute.id.bytes)
        await then_a_genuine_refund(settings, key=dispute.id.bytes)
        await results(settings, expect=1)
        exposed = await metrics(app)
    [dead] = await dead_letters(settings, expect=1)
    assert reason_of(dead) == "REFUND_EXCEEDS_PAID_AMOUNT"
    assert simulator.refunds(dispute.order_id) == []
    assert 'refund_untrusted_resolutions_total{reason="REFUND_EXCEEDS_PAID_AMOUNT"} 1.0' in exposed


async def test_a_forged_opening_claiming_more_than_the_order_paid_is_not_paid(settings, simulator):
    dispute = Dispute(paid="99999.00")
    dispute.placed = order_placed(order_id=dispute.order_id, amount="100.00")
    async with refund_service(settings):
        await place(settings, dispute)
        await publish(settings, dispute.opened, dispute.resolved("99999.00"), key=dispute.id.bytes)
        await then_a_genuine_refund(settings, key=dispute.id.bytes)
        await results(settings, expect=1)
    [dead] = await dead_letters(settings, expect=1)
    assert reason_of(dead) == "PAID_AMOUNT_MISMATCH" and simulator.refunds(dispute.order_id) == []


async def test_a_dispute_in_another_currency_than_its_order_is_not_paid(settings, simulator):
    dispute = Dispute()
    opened = dispute.event("DisputeOpened", **{**dispute.opened.payload, "currency": "EUR"})
    resolved = dispute.event("Resolved", **resolved_payload("30.00", currency="EUR"))
    async with refund_service(settings):
        await place(settings, dispute)
        await publish(settings, opened, resolved, key=dispute.id.bytes)
        await then_a_genuine_refund(settings, key=dispute.id.bytes)
        await results(settings, expect=1)
    [dead] = await dead_letters(settings, expect=1)
    assert reason_of(dead) == "CURRENCY_MISMATCH" and simulator.refunds(dispute.order_id) == []


async def test_a_dispute_opened_again_on_another_order_pays_nothing_to_that_order(settings, simulator):
    dispute, forgers = Dispute(), Dispute(paid="99999.00")
    retargeted = dispute.event("DisputeOpened", **{**forgers.opened.payload})
    async with refund_service(settings):
        await place(settings, dispute)
        await place(settings, forgers)
        await publish(settings, dispute.opened, retargeted, dispute.resolved("30.00"),
                      key=dispute.id.bytes)
        [issued] = await results(settings, expect=1)
    [dead] = await dead_letters(settings, expect=1)
    assert (reason_of(dead), dead.value) == ("DISPUTE_FACTS_CONFLICT", retargeted.kafka_value())
    assert [r["amount"] for r in simulator.refunds(dispute.order_id)] == ["30.00"]
    assert simulator.refunds(forgers.order_id) == [] and issued.amount == Decimal("30.00")


async def test_a_forged_second_order_placed_neither_reassigns_the_order_nor_pays_the_forger(
        settings, simulator):
    dispute = Dispute()
    forged_order = order_placed(order_id=dispute.order_id, buyer="B-forger")
    forgers = dispute.event("DisputeOpened", **{**dispute.opened.payload, "buyer_id": "B-forger"})
    async with refund_service(settings) as app:
        await place(settings, dispute)
        await publish(settings, forged_order.model_dump_json().encode(),
                      key=dispute.order_id.encode(), topic=settings.orders_topic)
        [refused_order] = await dead_letters(settings, expect=1, topic=settings.orders_topic)
        await publish(settings, forgers, dispute.resolved("100.00"), key=dispute.id.bytes)
        await then_a_genuine_refund(settings, key=dispute.id.bytes)
        await results(settings, expect=1)
        exposed = await metrics(app)
        assert app.state.orders.order(dispute.order_id).buyer_id == "B-1"
    [dead] = await dead_letters(settings, expect=1)
    assert reason_of(refused_order) == "ORDER_CONTRADICTS_KNOWN"
    assert reason_of(dead) == "BUYER_MISMATCH" and simulator.refunds(dispute.order_id) == []
    assert "refund_contradicting_orders_total 1.0" in exposed


async def test_a_resolution_whose_order_arrives_later_is_paid_once(settings, simulator):
    dispute = Dispute()
    async with refund_service(settings.model_copy(update={"unknown_order_wait": 60.0})):
        await publish(settings, dispute.opened, dispute.resolved("30.00"), key=dispute.id.bytes)
        await place(settings, dispute)
        [issued] = await results(settings, expect=1)
    assert [r["id"] for r in simulator.refunds(dispute.order_id)] == [issued.provider_reference]


async def test_the_dispute_service_keeps_the_first_buyer_of_an_order_placed_twice(pg_url, kafka):
    await ensure_platform_topics(kafka.admin, partitions=6)
    book = OrderBook(sqlalchemy_engine(pg_url))
    book.create_tables()
    broker = kafka_broker(kafka.admin, "tests")
    register_order_consumer(broker, book)
    order_id = f"O-{uuid4().hex[:8]}"
    genuine, forged = order_placed(order_id=order_id), order_placed(order_id=order_id, buyer="B-forger")
    await broker.start()
    try:
        for event in (genuine, forged):
            await broker.publish(event.model_dump_json().encode(), topic=ORDERS_EVENTS,
                                 key=order_id.encode())
        dlq = await eventually(lambda: _dead_letters_of(kafka.admin, order_id))
    finally:
        await broker.stop()
    assert [(reason_of(r), r.value) for r in dlq] == [("ORDER_CONTRADICTS_KNOWN",
                                                        forged.model_dump_json().encode())]
    assert book.facts(order_id).buyer_id == "B-1"
    with pytest.raises(DomainError) as refused:
        build_application(DisputeSettings(database_url=pg_url)).open_dispute(
            order=book.facts(order_id), item_id="I-1", actor=Actor(Role.BUYER, "B-forger"),
            reason="DAMAGED", request="FULL_REFUND", request_amount=None, description="", at=NOW)
    assert refused.value.code == "FORBIDDEN"


async def _dead_letters_of(connection, order_id: str) -> list:
    records = await read_topic(connection, dead_letter_topic(ORDERS_EVENTS, "dispute"), 10_000,
                               timeout=2)
    return [record for record in records if record.key == order_id.encode()]


async def test_an_unreadable_order_record_is_dead_lettered_and_the_next_order_is_learned(settings):
    dispute = Dispute()
    async with refund_service(settings) as app:
        await publish(settings, b'{"event_type": "OrderPlaced"}', key=dispute.order_id.encode(),
                      topic=settings.orders_topic)
        await place(settings, dispute)
        learned = await eventually(lambda: app.state.orders.order(dispute.order_id))
    [dead] = await dead_letters(settings, expect=1, topic=settings.orders_topic)
    assert dead.value == b'{"event_type": "OrderPlaced"}' and learned.buyer_id == "B-1"
