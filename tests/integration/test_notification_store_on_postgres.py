"""The notification store on a real PostgreSQL, which (unlike SQLite) enforces column lengths
and aborts a transaction at its first conflict."""

from __future__ import annotations

from uuid import uuid4

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from services.common.database import sqlalchemy_engine
from services.notification.consumer import handle, handle_all
from services.notification.notices import Parties, Recipient
from services.notification.email_outbox import EmailOutbox
from services.notification.store import Effect, NotificationStore, Profile
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


def test_a_dispute_whose_buyer_is_its_seller_is_recorded_once_per_role_and_not_lost(store):
    event = opened("P-1", "P-1")
    assert handle(store, event) is True and handle(store, event) is False
    assert sorted(n["recipient_role"] for n in store.inbox("P-1")) == ["buyer", "seller"]
    assert sorted(e["recipient"] for e in EmailOutbox(store.engine).emails()) == [
        "buyer:P-1", "seller:P-1"]
    assert store.parties(str(event.dispute_id)) == Parties("P-1", "P-1")


def test_a_database_made_with_the_old_short_id_columns_is_widened(store):
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE notifications ALTER COLUMN recipient TYPE VARCHAR(128)"))
        conn.execute(text("ALTER TABLE dispute_parties ALTER COLUMN seller_id TYPE VARCHAR(128)"))
    store.create_tables()
    store.create_tables()  # nothing left to widen: a no-op
    assert handle(store, opened("B-1", "S" * 300)) is True


def test_a_database_with_the_former_id_only_profiles_starts_and_never_reads_them(store):
    """Rows of the former `recipients` table (keyed by id alone, writable by any role with that
    id) are left alone and ignored: a profile is now the (role, id)'s own."""
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE recipients (recipient_id TEXT PRIMARY KEY,"
                          " email VARCHAR(254), time_zone VARCHAR(64))"))
        conn.execute(text("INSERT INTO recipients VALUES ('S-1', 'attacker@evil.example', NULL)"))
    store.create_tables()
    assert handle(store, opened("B-1", "S-1")) is True
    assert "attacker@evil.example" not in {e["to_address"] for e in EmailOutbox(store.engine).emails()}


def test_profiles_of_one_long_id_in_two_roles_are_kept_apart(store):
    party = "P-" + "x" * 500
    store.set_profile(Recipient("buyer", party), Profile("b@home.example", None))
    store.set_profile(Recipient("seller", party), Profile("s@shop.example", "Europe/Berlin"))
    assert store.profiles([Recipient("buyer", party), Recipient("seller", party)]) == {
        Recipient("buyer", party): Profile("b@home.example", None),
        Recipient("seller", party): Profile("s@shop.example", "Europe/Berlin")}


def test_a_batch_is_one_insert_per_table_and_its_rows_read_back_as_written(store, monkeypatch):
    events = [opened(f"B-{n}", f"S-{n}") for n in range(5)]
    statements: list[str] = []
    for name in ("execute", "executemany"):  # what reaches the server: an executemany is a statement a row
        monkeypatch.setattr(psycopg.Cursor, name, _noting(statements, name, getattr(psycopg.Cursor, name)))
    outcome = handle_all(store, events)
    monkeypatch.undo()
    assert outcome.stored == {n: True for n in range(5)} and not outcome.failures
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert sorted(" ".join(s.split()[1:3]) for s in inserts) == [
        "INTO dispute_parties", "INTO email_outbox", "INTO handled_events", "INTO notifications"]
    assert not [s for s in inserts if s.startswith("INSERT executemany")]
    for n, event in enumerate(events):
        entries = store.inbox(f"B-{n}") + store.inbox(f"S-{n}")
        assert [(e["event_id"], e["dispute_id"], e["read_at"]) for e in entries] == [
            (str(event.event_id), str(event.dispute_id), None)] * 2
        assert entries[0]["created_at"].tzinfo is not None
        assert store.parties(str(event.dispute_id)) == Parties(f"B-{n}", f"S-{n}")
    emails = EmailOutbox(store.engine).emails()
    assert sorted(e["recipient"] for e in emails) == sorted(
        f"{role}:{p}-{n}" for n in range(5) for role, p in (("buyer", "B"), ("seller", "S")))
    assert {(e["attempts"], e["sent_at"]) for e in emails} == {(0, None)}


def test_an_event_handled_meanwhile_fails_the_whole_batch_as_a_conflict(store):
    first, second = opened("B-1", "S-1"), opened("B-2", "S-2")
    assert handle(store, first) is True
    effects = [Effect(str(e.event_id), e.event_type, str(e.dispute_id), []) for e in (second, first)]
    with pytest.raises(IntegrityError):  # SQLAlchemy's, which the consumer tells from an outage
        store.record_all(effects)
    assert not store.handled(str(second.event_id))
    assert handle_all(store, [second, first]).stored == {0: True, 1: False}


def _noting(statements: list, how: str, original):
    def noted(cursor, statement, *args, **kwargs):
        words = " ".join(str(statement).split()).split(" ", 1)
        statements.append(" ".join([words[0], *(["executemany"] if how == "executemany" else []), *words[1:]]))
        return original(cursor, statement, *args, **kwargs)
    return noted
