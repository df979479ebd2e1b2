"""The notification consumer's handling in-process (SQLite, no broker): what is stored for an
event, what counts as "already handled", and what a database outage does to redelivery."""

import asyncio
import time
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from services.common.database import sqlalchemy_engine
from services.notification.consumer import NotifyConfig, consume, handle
from services.notification.notices import Notice, Parties, Recipient
from services.notification.email_outbox import EmailOutbox
from services.notification.store import NotificationStore
from tests.support.envelopes import opened


@pytest.fixture
def store(tmp_path):
    store = NotificationStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/n.sqlite"))
    store.create_tables()
    return store


def test_a_dispute_whose_buyer_is_its_seller_notifies_that_id_once_in_each_role(store):
    event = opened("P-1", "P-1")
    assert handle(store, event) is True
    [as_seller] = store.inbox("P-1", role="seller")
    [as_buyer] = store.inbox("P-1", role="buyer")
    assert as_seller["event_id"] == as_buyer["event_id"] == str(event.event_id)
    assert sorted((e["recipient"], e["to_address"]) for e in EmailOutbox(store.engine).emails()) == [
        ("buyer:P-1", "P-1@example.invalid"), ("seller:P-1", "P-1@example.invalid")]
    assert store.parties(str(event.dispute_id)) == Parties("P-1", "P-1")
    assert handle(store, event) is False and len(store.inbox("P-1")) == 2


def test_only_an_event_handled_before_counts_as_a_duplicate(store):
    twice = [Notice("S-1", "seller", "s", "b\n"), Notice("S-1", "seller", "s", "b\n")]
    with pytest.raises(IntegrityError):  # a fault in the effect, not "seen before"
        store.record(event_id="E-1", event_type="DisputeOpened", dispute_id="D-1",
                     notices=twice, parties=Parties("S-1", "S-1"),
                     addresses={Recipient("seller", "S-1"): "s@x.example"})
    assert not store.handled("E-1") and store.inbox("S-1") == []
    once = twice[:1]
    assert store.record(event_id="E-1", event_type="DisputeOpened", dispute_id="D-1",
                        notices=once, parties=None) is True
    assert store.record(event_id="E-1", event_type="DisputeOpened", dispute_id="D-1",
                        notices=once, parties=None) is False


def test_long_party_ids_are_stored(store):
    buyer, seller = "B" * 600, "S" * 600
    event = opened(buyer, seller)
    assert handle(store, event) is True
    assert len(store.inbox(seller)) == 1 and len(store.inbox(buyer)) == 1


class DatabaseAway(NotificationStore):
    def parties(self, dispute_id):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    profiles = record = handled_among = parties_of = record_all = \
        lambda self, *args, **kwargs: DatabaseAway.parties(self, None)


class Broker:
    def __init__(self):
        self.published = []

    async def publish(self, body, **kwargs):
        self.published.append((body, kwargs))


def message(body: bytes):
    raw = SimpleNamespace(topic="disputes.events", partition=0, offset=7, key=b"k")
    return SimpleNamespace(body=body, raw_message=raw)


async def test_an_outage_pauses_before_kafka_redelivers_and_is_never_dead_lettered(store):
    broker, config = Broker(), NotifyConfig(attempts=2, backoff=0.0, redelivery_pause=0.5)
    started = time.monotonic()
    with pytest.raises(OperationalError):
        await consume(broker, "dlq", DatabaseAway(store.engine), config,
                      message(opened("B-1", "S-1").kafka_value()))
    assert time.monotonic() - started >= 0.5 and broker.published == []


async def test_a_record_that_can_never_be_handled_is_dead_lettered_without_a_pause(store):
    broker, config = Broker(), NotifyConfig(redelivery_pause=5.0)
    await asyncio.wait_for(consume(broker, "dlq", store, config, message(b'{"not": "an event"}')), 1)
    [(body, sent)] = broker.published
    assert body == b'{"not": "an event"}' and sent["topic"] == "dlq"
