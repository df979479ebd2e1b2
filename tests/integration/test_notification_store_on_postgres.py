"""The notification store on a real PostgreSQL, which (unlike SQLite) enforces column lengths
and aborts a transaction at its first conflict."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import text

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from services.common.database import sqlalchemy_engine
from services.notification.handlers import handle
from services.notification.messages import Parties
from services.notification.outbox import EmailOutbox
from services.notification.store import NotificationStore
from tests.support.orders import NOW

pytestmark = pytest.mark.integration


def opened(buyer: str, seller: str) -> EventEnvelope:
    dispute_id = uuid4()
    return EventEnvelope(
        event_id=event_id_for(dispute_id, 1), event_type="DisputeOpened", schema_version=1,
        dispute_id=dispute_id, dispute_version=1, occurred_at=NOW, correlation_id="c-1",
        actor=ActorRef(role="buyer", id=buyer),
        payload={"order_id": "O-1", "item_id": "I-1", "buyer_id": buyer, "seller_id": seller,
                 "reason": "DAMAGED", "request": "FULL_REFUND", "request_amount": None,
                 "description": "cracked", "paid_amount": "100.00", "currency": "USD",
                 "deadlines": {"SELLER_RESPONSE": "2026-03-15T12:00:00Z"},
                 "escalation_allowed_from": "2026-03-13T12:00:00Z"})


@pytest.fixture
def store(pg_url):
    store = NotificationStore(sqlalchemy_engine(pg_url))
    store.create_tables()
    return store


def test_party_ids_longer_than_128_characters_are_notified_and_mailed(store):
    buyer, seller = "B" * 300, "S-" + "x" * 500
    event = opened(buyer, seller)
    assert handle(store, event) is True
    assert len(store.inbox(buyer)) == 1 and len(store.inbox(seller)) == 1
    assert store.parties(str(event.dispute_id)) == Parties(buyer, seller)
    assert {e["to_address"] for e in EmailOutbox(store.engine).emails()} == {
        f"{buyer}@example.invalid", f"{seller}@example.invalid"}


def test_a_dispute_whose_buyer_is_its_seller_is_recorded_once_and_not_lost(store):
    event = opened("P-1", "P-1")
    assert handle(store, event) is True and handle(store, event) is False
    assert [n["recipient_role"] for n in store.inbox("P-1")] == ["seller"]
    assert len(EmailOutbox(store.engine).emails()) == 1
    assert store.parties(str(event.dispute_id)) == Parties("P-1", "P-1")


def test_a_database_made_with_the_old_short_id_columns_is_widened(store):
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE notifications ALTER COLUMN recipient TYPE VARCHAR(128)"))
        conn.execute(text("ALTER TABLE dispute_parties ALTER COLUMN seller_id TYPE VARCHAR(128)"))
    store.create_tables()
    store.create_tables()  # nothing left to widen: a no-op
    assert handle(store, opened("B-1", "S" * 300)) is True
