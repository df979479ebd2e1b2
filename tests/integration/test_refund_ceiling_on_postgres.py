"""The paid amount (less refunds outside disputes) is a ceiling even for refunds paid at the
same moment or whose outcome the provider never told (real PostgreSQL; the simulator
in-process, slowed down so both refunds are in flight together, or answering too late)."""

import asyncio
from dataclasses import replace
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from services.common.database import sqlalchemy_engine
from standins.payment_provider.app import create_app as create_simulator
from standins.payment_provider.settings import SimulatorSettings
from sqlalchemy import inspect, text

from services.refund.desk import RefundDesk, _instruction
from services.refund.gateway import PaymentProvider, RetryPolicy
from contracts.orders import OrderItem, OrderRefunded
from services.refund.orders import PaidOrders
from services.refund.policy import OutsideRefund, refund_for
from services.refund.store import _HELD_ON_ORDER, RefundStore
from tests.support.envelopes import decision
from tests.support.payment_simulator import Simulator
from tests.support.orders import order_placed
from tests.support.refunds import opened_on_known_order, terms_of

pytestmark = pytest.mark.integration


class RecordingPublisher:
    def __init__(self):
        self.published = []

    async def publish(self, event) -> None:
        self.published.append(event)


@pytest.fixture
def store(pg_url) -> RefundStore:
    store = RefundStore(sqlalchemy_engine(pg_url))
    store.create_tables()
    return store


@pytest.fixture
def slow_provider(tmp_path) -> PaymentProvider:
    settings = SimulatorSettings(database_url=f"sqlite:///{tmp_path}/paysim.sqlite", latency_ms=300)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_simulator(settings)),
                               base_url="http://provider")
    return PaymentProvider(client, RetryPolicy(attempts=1))


def awards(store: RefundStore, paid: str, *amounts: str) -> list[str]:
    dispute_id = opened_on_known_order(store, paid, order_id="O-1")
    keys = []
    for amount in amounts:
        event_id = str(uuid4())
        instruction = refund_for(event_id, dispute_id, decision("AppealDecided", amount))
        store.accept(event_id=event_id, terms=None, instruction=instruction, correlation_id=None)
        keys.append(instruction.idempotency_key)
    return keys


async def test_two_refunds_paid_at_once_never_exceed_the_paid_amount_together(store, slow_provider):
    first, second = awards(store, "50.00", "30.00", "30.00")
    desks = [RefundDesk(store, slow_provider, RecordingPublisher()) for _ in range(2)]
    settled = await asyncio.gather(desks[0].pay(first), desks[1].pay(second))
    assert sorted((s.status, s.reason) for s in settled) == [
        ("FAILED", "REFUND_EXCEEDS_PAID_AMOUNT"), ("ISSUED", None)]


async def test_two_refunds_within_the_paid_amount_are_both_paid_at_once(store, slow_provider):
    first, second = awards(store, "60.00", "30.00", "30.00")
    desks = [RefundDesk(store, slow_provider, RecordingPublisher()) for _ in range(2)]
    settled = await asyncio.gather(desks[0].pay(first), desks[1].pay(second))
    assert [s.status for s in settled] == ["ISSUED", "ISSUED"]


async def test_a_refund_the_provider_took_but_never_answered_keeps_holding_the_paid_amount(
        store, tmp_path):
    """The simulator pays the first award but answers too late: the desk cannot know, so the
    second award must not be paid on top of it (it would exceed what the buyer paid)."""
    first, second = awards(store, "50.00", "30.00", "30.00")
    with Simulator(tmp_path, timeout_first_n=1, timeout_seconds=1.0) as late:
        async with httpx.AsyncClient(base_url=late.url, timeout=0.3) as client:
            desk = RefundDesk(store, PaymentProvider(client, RetryPolicy(attempts=1)),
                              RecordingPublisher())
            unknown = await desk.pay(first)
            refused = await desk.pay(second)
        paid = late.refunds("O-1")
    assert (unknown.status, unknown.reserved, unknown.retryable) == ("FAILED", True, True)
    assert (refused.status, refused.reason) == ("FAILED", "REFUND_EXCEEDS_PAID_AMOUNT")
    assert [r["amount"] for r in paid] == ["30.00"]


async def test_a_late_provider_success_replaces_a_recorded_failure(store):
    [key] = awards(store, "50.00", "30.00")
    store.reserve(_instruction(store.instruction(key)))
    store.record_failed(key, "PROVIDER_UNREACHABLE: ReadTimeout", retryable=True)
    assert store.record_issued(key, "re_late")
    stored = store.instruction(key)
    assert (stored.status, stored.provider_reference, stored.published) == ("ISSUED", "re_late", False)


def test_refunds_outside_the_dispute_only_ever_raise_what_was_refunded_before(store):
    dispute_id = opened_on_known_order(store, "100.00", refunded_before="10.00")
    for total in ("40.00", "20.00", "40.00"):
        store.accept(event_id=str(uuid4()), terms=None, instruction=None, correlation_id=None,
                     outside_refund=OutsideRefund(dispute_id, Decimal(total)))
    assert store.terms(dispute_id).refundable == Decimal("60.00")


def test_a_correlation_id_longer_than_200_characters_is_stored_whole(store):
    [key] = awards(store, "50.00", "30.00")
    instruction = _instruction(store.instruction(key))
    event_id = str(uuid4())
    long_one = refund_for(event_id, instruction.dispute_id, decision("Resolved", "1.00"))
    store.accept(event_id=event_id, terms=None, instruction=long_one, correlation_id="c" * 1000)
    assert store.instruction(long_one.idempotency_key).correlation_id == "c" * 1000


def test_a_store_made_by_the_previous_version_is_brought_up_to_date(pg_url):
    engine = sqlalchemy_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE refund_order_terms (dispute_id VARCHAR(36) PRIMARY KEY, "
                          "order_id VARCHAR(128) NOT NULL, paid_amount VARCHAR(32) NOT NULL, "
                          "currency VARCHAR(3) NOT NULL)"))
        conn.execute(text("INSERT INTO refund_order_terms VALUES ('d-old', 'O-1', '50.00', 'USD')"))
        conn.execute(text("CREATE TABLE refund_instructions (idempotency_key VARCHAR(200) PRIMARY KEY, "
                          "correlation_id VARCHAR(200))"))
    store = RefundStore(engine)
    store.create_tables()
    store.create_tables()  # a second start finds nothing left to do
    columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("refund_instructions")}
    assert store.terms("d-old").refunded_before == Decimal(0)
    assert getattr(columns["correlation_id"], "length", None) is None
    assert "ix_refund_order_terms_order_id" in {i["name"] for i in inspect(engine).get_indexes("refund_order_terms")}


def test_what_an_order_holds_is_read_through_an_index_not_a_scan_of_every_dispute(store):
    """Every refund reads what the other disputes of its order hold: a scan of all the terms
    grew with the disputes ever opened (10 ms a refund at 100,000)."""
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO refund_order_terms (dispute_id, order_id, paid_amount, currency, item_id) "
                          "SELECT 'd-' || g, 'O-' || g, '10.00', 'USD', 'I-1' FROM generate_series(1, 20000) g"))
        conn.execute(text("ANALYZE refund_order_terms"))
        compiled = _HELD_ON_ORDER.compile(dialect=conn.dialect)
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(
            "EXPLAIN " + str(compiled),
            compiled.construct_params({"order": "O-7", "key": "k", "dispute": "d-7", "item": "I-1"})))
    assert "Seq Scan on refund_order_terms" not in plan
    assert "ix_refund_order_terms_order_id" in plan


async def test_refunds_of_two_disputes_paid_at_once_never_exceed_what_the_order_has_left(
        store, slow_provider):
    """Two items of 50.00, 40.00 of the order refunded outside disputes: 60.00 is left, so the
    two awards of 50.00 (each within its item's price) cannot both be paid."""
    placed = order_placed(order_id="O-2")
    placed = placed.model_copy(update={"items": [OrderItem(item_id="I-1", amount=Decimal("50.00")),
                                                 OrderItem(item_id="I-2", amount=Decimal("50.00"))]})
    orders = PaidOrders(store.engine)
    orders.apply(placed)
    orders.apply(OrderRefunded(event_id=uuid4(), order_id="O-2", amount=Decimal("40.00"),
                               refunded_at=placed.placed_at))
    keys = [award_on_item(store, "O-2", item) for item in ("I-1", "I-2")]
    desks = [RefundDesk(store, slow_provider, RecordingPublisher()) for _ in range(2)]
    settled = await asyncio.gather(desks[0].pay(keys[0]), desks[1].pay(keys[1]))
    assert sorted((s.status, s.reason) for s in settled) == [
        ("FAILED", "REFUND_EXCEEDS_PAID_AMOUNT"), ("ISSUED", None)]


def award_on_item(store: RefundStore, order_id: str, item_id: str) -> str:
    dispute_id, event_id = str(uuid4()), str(uuid4())
    store.accept(event_id=str(uuid4()), instruction=None, correlation_id=None, terms=replace(
        terms_of(dispute_id, order_id, "50.00"), item_id=item_id))
    instruction = refund_for(event_id, dispute_id, decision("Resolved", "50.00"))
    store.accept(event_id=event_id, terms=None, instruction=instruction, correlation_id=None)
    return instruction.idempotency_key


async def test_two_disputes_on_one_item_never_refund_more_than_its_price_together(store, slow_provider):
    """A second dispute on an item (possible if DISPUTE_ID_KEY ever changed) shares the item's
    price: two full awards of 50.00 on the same 50.00 item, paid at once, pay one."""
    placed = order_placed(order_id="O-3")
    placed = placed.model_copy(update={"items": [OrderItem(item_id="I-1", amount=Decimal("50.00")),
                                                 OrderItem(item_id="I-2", amount=Decimal("50.00"))]})
    PaidOrders(store.engine).apply(placed)
    keys = [award_on_item(store, "O-3", "I-1") for _ in range(2)]
    desks = [RefundDesk(store, slow_provider, RecordingPublisher()) for _ in range(2)]
    settled = await asyncio.gather(desks[0].pay(keys[0]), desks[1].pay(keys[1]))
    assert sorted((s.status, s.reason) for s in settled) == [
        ("FAILED", "REFUND_EXCEEDS_PAID_AMOUNT"), ("ISSUED", None)]
