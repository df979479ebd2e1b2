"""The refund service's consumer on a SQLite store with a scripted provider: which dispute
events it refuses to act on, how long a resolution waits for its order, and the order facts it
keeps from orders.events."""

from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from contracts.orders import OrderRefunded
from services.common.consumers import RetryLater
from services.common.database import sqlalchemy_engine
from services.refund.desk import RefundDesk
from services.refund.dispute_consumer import handle_or_redeliver, read_dispute_record
from services.refund.lifecycle import ISSUED
from services.refund.orders import OrderContradicted, PaidOrders
from services.refund.store import RefundStore
from services.refund.trust import TrustGate, TrustMetrics, Untrusted
from tests.component.test_refund_desk import Provider, Publisher
from tests.support.clock import Clock
from tests.support.envelopes import decision_payload, opened_payload, resolved_payload
from tests.support.orders import NOW, order_placed


def refund_facts(envelope):
    """What the consumer reads from this event as it comes off Kafka."""
    return read_dispute_record(envelope.kafka_value())[1]


class Dispute:
    def __init__(self, order_id: str = "O-1", paid: str = "100.00", **claim):
        self.id, self.version = uuid4(), 0
        self.opened = self.event("DisputeOpened", **opened_payload(
            order_id=order_id, paid_amount=paid, request_amount=paid, **claim))

    def event(self, event_type: str, **payload) -> EventEnvelope:
        self.version += 1
        return EventEnvelope(event_id=event_id_for(self.id, self.version), event_type=event_type,
                             schema_version=1, dispute_id=self.id, dispute_version=self.version,
                             occurred_at=NOW, correlation_id="c-1",
                             actor=ActorRef(role="operator", id="OP-1"), payload=payload)

    def resolved(self, amount: str, currency: str = "USD") -> EventEnvelope:
        return self.event("Resolved", **resolved_payload(amount, currency))


class Service:
    def __init__(self, tmp_path, wait: float = 60.0):
        self.store = RefundStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/refund.sqlite"))
        self.store.create_tables()
        self.orders, self.clock, self.provider = PaidOrders(self.store.engine), Clock(), Provider()
        self.gate = TrustGate(self.store, TrustMetrics(), wait, now=self.clock)
        self.desk = RefundDesk(self.store, self.provider, Publisher())

    async def consume(self, *envelopes: EventEnvelope) -> None:
        for envelope in envelopes:
            await handle_or_redeliver(self.store, self.desk, self.gate, envelope,
                                      refund_facts(envelope), pause=0)


@pytest.fixture
def service(tmp_path) -> Service:
    return Service(tmp_path)


@pytest.mark.parametrize("event_type", ["Resolved", "AppealDecided"])
async def test_a_refund_of_a_dispute_never_opened_is_refused_and_pays_nothing(service, event_type):
    service.orders.apply(order_placed())
    forged = Dispute().event(event_type, **decision_payload(event_type, "30.00"))
    with pytest.raises(Untrusted) as refused:
        await service.consume(forged)
    assert refused.value.reason == "DISPUTE_UNKNOWN" and service.provider.calls == []


async def test_a_resolution_for_an_order_not_known_yet_waits_for_it(service):
    dispute = Dispute()
    await service.consume(dispute.opened)
    resolved = dispute.resolved("30.00")
    with pytest.raises(RetryLater):
        await service.consume(resolved)
    service.orders.apply(order_placed())
    service.clock.advance(seconds=30)
    await service.consume(resolved)
    assert [i.status for i in service.store.for_dispute(str(dispute.id))] == [ISSUED]


async def test_a_resolution_whose_order_never_arrives_is_refused_once_the_wait_is_over(service):
    dispute = Dispute(order_id="O-nobody-placed")
    await service.consume(dispute.opened)
    resolved = dispute.resolved("99999.00")
    with pytest.raises(RetryLater):
        await service.consume(resolved)
    service.clock.advance(seconds=59)
    with pytest.raises(RetryLater):
        await service.consume(resolved)
    service.clock.advance(seconds=1)
    with pytest.raises(Untrusted) as refused:
        await service.consume(resolved)
    assert refused.value.reason == "ORDER_UNKNOWN" and service.provider.calls == []


async def test_a_dispute_opened_again_with_other_facts_is_refused_and_the_first_facts_kept(service):
    service.orders.apply(order_placed())
    dispute = Dispute()
    await service.consume(dispute.opened)
    forged = dispute.event("DisputeOpened", **{**dispute.opened.payload, "order_id": "O-forger"})
    with pytest.raises(Untrusted) as refused:
        await service.consume(forged)
    assert refused.value.reason == "DISPUTE_FACTS_CONFLICT"
    assert service.store.terms(str(dispute.id)).order_id == "O-1"


async def test_a_resolution_beyond_the_items_price_is_refused_without_reaching_the_provider(service):
    service.orders.apply(order_placed(amount="100.00"))
    dispute = Dispute()
    await service.consume(dispute.opened)
    with pytest.raises(Untrusted) as refused:
        await service.consume(dispute.resolved("99999.00"))
    assert refused.value.reason == "REFUND_EXCEEDS_PAID_AMOUNT" and service.provider.calls == []


async def test_two_disputes_of_one_order_never_refund_more_than_the_order_paid(service):
    """A forged second dispute on the same item, agreeing with every fact, cannot take the
    order beyond what it paid."""
    service.orders.apply(order_placed(amount="100.00"))
    genuine, forged = Dispute(), Dispute()
    await service.consume(genuine.opened, genuine.resolved("70.00"), forged.opened,
                          forged.resolved("70.00"))
    [refused] = service.store.for_dispute(str(forged.id))
    assert (refused.status, refused.reason) == ("FAILED", "REFUND_EXCEEDS_PAID_AMOUNT")
    assert service.provider.total() == Decimal("70.00")


def test_an_order_placed_again_with_another_buyer_is_refused_and_the_first_buyer_kept(service):
    placed = order_placed(buyer="B-1")
    assert service.orders.apply(placed)
    with pytest.raises(OrderContradicted) as refused:
        service.orders.apply(order_placed(buyer="B-forger", amount="99999.00"))
    assert refused.value.changes == ["buyer_id", "items", "paid_amount"]
    assert service.orders.order("O-1").buyer_id == "B-1"
    assert service.orders.apply(placed) is False  # the same event again: nothing happens


def test_an_order_placed_again_with_the_same_facts_changes_nothing(service):
    service.orders.apply(order_placed())
    service.orders.apply(order_placed())
    assert service.orders.order("O-1").paid_amount == Decimal("100.00")


def test_a_refund_outside_disputes_is_counted_once_even_before_the_order_is_placed(service):
    refunded = OrderRefunded(event_id=uuid4(), order_id="O-1", amount=Decimal("30.00"),
                             refunded_at=NOW)
    assert service.orders.apply(refunded) and not service.orders.apply(refunded)
    assert service.orders.order("O-1") is None
    service.orders.apply(order_placed())
    assert service.orders.order("O-1").refunded_outside == Decimal("30.00")
