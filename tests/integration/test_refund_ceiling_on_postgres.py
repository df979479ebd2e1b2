"""The paid amount is a ceiling even for refunds paid at the same moment (real PostgreSQL;
the simulator in-process, slowed down so both refunds are in flight together)."""

import asyncio
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from services.common.database import sqlalchemy_engine
from services.payment_simulator.app import create_app as create_simulator
from services.payment_simulator.settings import SimulatorSettings
from services.refund.desk import RefundDesk
from services.refund.gateway import PaymentProvider, RetryPolicy
from services.refund.policy import OrderTerms, refund_for
from services.refund.store import RefundStore

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
    dispute_id = str(uuid4())
    store.accept(event_id=str(uuid4()), instruction=None, correlation_id=None,
                 terms=OrderTerms(dispute_id, "O-1", Decimal(paid), "USD"))
    keys = []
    for amount in amounts:
        event_id = str(uuid4())
        instruction = refund_for("AppealDecided", event_id, dispute_id,
                                 {"refund_amount": amount, "currency": "USD"})
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
