"""The notification consumer handles a Kafka batch as a whole: three reads and one transaction
for all its events (one commit per event held the service to ~40 events/s on a durable
PostgreSQL), without giving up what one at a time gave: order within a dispute, one inbox entry
per (event, recipient), a faulty event failing alone, nothing dead-lettered before the batch
is stored."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from uuid import uuid4

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.exc import OperationalError

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from services.common.database import sqlalchemy_engine
from services.notification.consumer import NotifyConfig, consume_all, handle_all
from services.notification.notices import Notice, UnknownEvent
from services.notification.store import Effect, NotificationStore
from tests.support.envelopes import OPENED
from tests.support.notification_store import notification_store
from tests.support.orders import NOW


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    return notification_store(request, tmp_path)


def commits(store: NotificationStore) -> list[int]:
    counted: list[int] = []
    sa_event.listen(store.engine, "commit", lambda conn: counted.append(1))
    return counted


def dispute(buyer: str = "B-1", seller: str = "S-1"):
    dispute_id, version = uuid4(), iter(range(1, 100))

    def next_event(event_type: str, payload: dict, role: str = "buyer", actor: str = buyer) -> EventEnvelope:
        number = next(version)
        return EventEnvelope(event_id=event_id_for(dispute_id, number), event_type=event_type,
                             schema_version=1, dispute_id=dispute_id, dispute_version=number,
                             occurred_at=NOW, correlation_id="c-1", actor=ActorRef(role=role, id=actor),
                             payload=payload)
    return dispute_id, next_event


def opened_and_message(buyer: str, seller: str) -> list[EventEnvelope]:
    _, next_event = dispute(buyer, seller)
    return [next_event("DisputeOpened", {**OPENED, "buyer_id": buyer, "seller_id": seller}),
            next_event("MessagePosted", {"message_id": "m-1", "visibility": "PARTIES"})]


def test_a_batch_is_stored_in_one_transaction_and_an_opening_teaches_the_events_after_it(store):
    events = opened_and_message("B-1", "S-1") + opened_and_message("B-2", "S-2")
    counted = commits(store)
    outcome = handle_all(store, events)
    assert outcome.stored == {0: True, 1: True, 2: True, 3: True} and outcome.failures == []
    assert len(counted) == 1
    # the buyer wrote: the seller is told, with the parties of the opening in the same batch
    assert sorted(n["event_type"] for n in store.inbox("S-1")) == ["DisputeOpened", "MessagePosted"]
    assert [n["event_type"] for n in store.inbox("B-2")] == ["DisputeOpened"]
    assert store.parties(str(events[2].dispute_id)).buyer_id == "B-2"


def test_events_handled_before_or_twice_in_a_batch_are_stored_once(store):
    first, second = opened_and_message("B-1", "S-1")
    assert handle_all(store, [first]).stored == {0: True}
    outcome = handle_all(store, [first, second, second])
    assert outcome.stored == {0: False, 1: True, 2: False}
    assert len(store.inbox("S-1")) == 2 and len(store.inbox("B-1")) == 1


def test_an_event_that_can_never_be_handled_fails_alone(store):
    good = opened_and_message("B-1", "S-1")
    _, next_event = dispute()
    unknown = next_event("DisputeOpened", {**OPENED}).model_copy(update={"event_type": "Teleported"})
    outcome = handle_all(store, [good[0], unknown, good[1]])
    assert outcome.stored == {0: True, 2: True}
    [(index, error)] = outcome.failures
    assert index == 1 and isinstance(error, UnknownEvent)
    assert len(store.inbox("S-1")) == 2


class RacedStore(NotificationStore):
    """Another consumer (the partition's owner before a rebalance) records `raced` between this
    consumer's read of the handled ids and its transaction."""

    raced: EventEnvelope | None = None

    def record_all(self, effects):
        if self.raced is not None:
            raced, self.raced = self.raced, None
            handle_all(NotificationStore(self.engine), [raced])
        super().record_all(effects)


def test_an_event_recorded_meanwhile_by_another_consumer_is_a_duplicate_and_the_others_are_stored(store):
    raced_store = RacedStore(store.engine)
    events = opened_and_message("B-1", "S-1")
    raced_store.raced = events[0]
    outcome = handle_all(raced_store, events)
    assert outcome.stored == {0: False, 1: True} and outcome.failures == []
    assert len(store.inbox("S-1")) == 2 and len(store.inbox("B-1")) == 1


class OneFaultyEffect(NotificationStore):
    """The database refuses one event's effect (two inbox entries of one recipient)."""

    def record_all(self, effects):
        super().record_all([_twice(e) if e.event_type == "MessagePosted" else e for e in effects])

    def record(self, *, notices, event_type, **kwargs):
        twice = notices + notices if event_type == "MessagePosted" else notices
        return super().record(notices=twice, event_type=event_type, **kwargs)


def _twice(effect: Effect) -> Effect:
    return Effect(effect.event_id, effect.event_type, effect.dispute_id,
                  effect.notices + effect.notices, effect.parties, effect.addresses)


def test_an_effect_the_database_refuses_fails_its_event_only(store):
    events = opened_and_message("B-1", "S-1") + opened_and_message("B-2", "S-2")
    outcome = handle_all(OneFaultyEffect(store.engine), events)
    assert outcome.stored == {0: True, 2: True}
    assert [index for index, _ in outcome.failures] == [1, 3]
    assert not store.handled(str(events[1].event_id)) and store.handled(str(events[2].event_id))


class Broker:
    def __init__(self):
        self.published = []

    async def publish(self, body, **kwargs):
        self.published.append((body, kwargs))


def record(body: bytes, offset: int):
    raw = SimpleNamespace(topic="disputes.events", partition=0, offset=offset, key=b"k")
    return SimpleNamespace(body=body, raw_message=raw, headers={})


async def test_refused_and_failed_records_are_dead_lettered_after_the_batch_is_stored(store):
    events = opened_and_message("B-1", "S-1")
    unknown = events[1].model_copy(update={"event_type": "Teleported", "event_id": uuid4()})
    batch = [record(events[0].kafka_value(), 1), record(b"not json", 2),
             record(unknown.model_dump_json().encode(), 3), record(events[1].kafka_value(), 4)]
    broker = Broker()
    await consume_all(broker, "dlq", store, NotifyConfig(), batch)
    reasons = {sent["headers"]["dlq-source-offset"]: sent["headers"]["dlq-reason"] for _, sent in broker.published}
    assert reasons["2"] == "MALFORMED_RECORD" and set(reasons) == {"2", "3"}
    assert len(store.inbox("S-1")) == 2


async def test_a_batch_that_stored_events_wakes_the_sender_and_one_of_duplicates_only_does_not(store):
    events, woken = opened_and_message("B-1", "S-1"), []
    batch = [record(events[0].kafka_value(), 1), record(events[1].kafka_value(), 2)]
    await consume_all(Broker(), "dlq", store, NotifyConfig(), batch, stored=lambda: woken.append(1))
    assert woken == [1]
    await consume_all(Broker(), "dlq", store, NotifyConfig(), batch, stored=lambda: woken.append(1))
    await consume_all(Broker(), "dlq", store, NotifyConfig(), [record(b"not json", 3)],
                      stored=lambda: woken.append(1))
    assert woken == [1]  # redelivered (handled before) or refused: nothing new to send


async def test_the_services_consumer_wakes_the_sender_once_its_batch_is_stored(store):
    """The wiring of `build_broker(stored=...)` (create_app passes the sender's wake-up) through
    faststream's own subscriber."""
    from faststream.kafka import TestKafkaBroker

    from services.notification.main import build_broker
    from services.notification.settings import NotificationSettings

    woken = []
    broker = build_broker(NotificationSettings(), store, stored=lambda: woken.append(1))
    async with TestKafkaBroker(broker) as running:
        await running.publish(opened_and_message("B-1", "S-1")[0].kafka_value(), topic="disputes.events")
    assert woken == [1] and len(store.inbox("S-1")) == 1


class DatabaseAway(NotificationStore):
    def record_all(self, effects):
        raise OperationalError("INSERT", {}, Exception("connection refused"))


async def test_a_batch_that_meets_an_outage_dead_letters_nothing_and_is_redelivered_whole(store):
    events = opened_and_message("B-1", "S-1")
    broker = Broker()
    batch = [record(events[0].kafka_value(), 1), record(b"not json", 2), record(events[1].kafka_value(), 3)]
    with pytest.raises(OperationalError):
        await consume_all(broker, "dlq", DatabaseAway(store.engine),
                          NotifyConfig(attempts=2, backoff=0.0, redelivery_pause=0.0), batch)
    assert broker.published == [] and store.inbox("S-1") == []
    await consume_all(broker, "dlq", store, NotifyConfig(), batch)  # Kafka hands it again
    assert len(broker.published) == 1 and len(store.inbox("S-1")) == 2


def test_one_inbox_entry_and_one_email_per_recipient_of_each_event_in_a_batch(store):
    from services.notification.email_outbox import EmailOutbox

    events = [e for n in range(20) for e in opened_and_message(f"B-{n}", f"S-{n % 3}")]
    handle_all(store, events)
    handle_all(store, events)  # redelivered
    emails = EmailOutbox(store.engine).emails()
    assert len(emails) == len({(e["event_id"], e["recipient"]) for e in emails}) == 20 * 2 + 20
    assert sum(len(store.inbox(f"S-{n}")) for n in range(3)) == 40


def test_the_inbox_and_the_outbox_keep_the_order_of_a_batchs_events(store):
    from services.notification.email_outbox import EmailOutbox

    events = opened_and_message("B-1", "S-1")
    handle_all(store, events)
    assert [n["event_type"] for n in store.inbox("S-1")] == ["MessagePosted", "DisputeOpened"]  # newest first
    seller = sorted((e for e in EmailOutbox(store.engine).emails() if e["recipient"] == "seller:S-1"),
                    key=lambda e: e["next_attempt_at"])
    assert [e["event_id"] for e in seller] == [str(events[0].event_id), str(events[1].event_id)]


async def test_an_event_whose_data_a_read_of_the_batch_refuses_fails_alone(pg_url):
    """PostgreSQL refuses a NUL in a text value (here a party id, which the contract lets
    through): the batch's profile read fails for all; event by event, only that one does."""
    store = NotificationStore(sqlalchemy_engine(pg_url))
    store.create_tables()
    good, bad, later = opened_and_message("B-1", "S-1"), opened_and_message("B-\x00", "S-2"), \
        opened_and_message("B-3", "S-3")
    batch = [record(e.kafka_value(), n) for n, e in enumerate(good + bad + later)]
    broker = Broker()
    await asyncio.wait_for(consume_all(broker, "dlq", store, NotifyConfig(redelivery_pause=0), batch), 30)
    assert [sent["headers"]["dlq-source-offset"] for _, sent in broker.published] == ["2"]
    assert broker.published[0][1]["headers"]["dlq-reason"] == "HANDLING_FAILED"
    assert len(store.inbox("S-1")) == 2 and len(store.inbox("S-3")) == 2
    # the message after the refused opening is handled (told to operators: its parties are unknown)
    assert store.handled(str(bad[1].event_id)) and not store.handled(str(bad[0].event_id))


def checkouts(store: NotificationStore) -> list[int]:
    counted: list[int] = []
    sa_event.listen(store.engine.pool, "checkout", lambda *args: counted.append(1))
    return counted


def test_a_batch_reads_and_writes_on_one_connection(store):
    """The three reads and the write of a batch share one pooled connection (taking one from
    the pool, trying it and giving it back per read was most of a small batch's CPU)."""
    handle_all(store, opened_and_message("B-0", "S-0"))  # the pool's connection exists
    taken, counted = checkouts(store), commits(store)
    outcome = handle_all(store, opened_and_message("B-1", "S-1") + opened_and_message("B-2", "S-2"))
    assert outcome.stored == {0: True, 1: True, 2: True, 3: True}
    assert len(taken) == 1 and len(counted) == 1


def test_what_a_batch_writes_is_seen_by_others_only_once_it_commits(store):
    first, _ = opened_and_message("B-1", "S-1")
    effect = Effect(str(first.event_id), first.event_type, str(first.dispute_id),
                    [Notice("S-1", "seller", "s", "b\n")])

    def elsewhere() -> bool:  # another thread, as the inbox API's (a fresh context: no batch)
        seen: list[bool] = []
        thread = threading.Thread(target=lambda: seen.append(store.handled(effect.event_id)))
        thread.start()
        thread.join()
        return seen[0]

    with store.batch() as batch:
        store.record_all([effect])
        assert store.handled(effect.event_id)  # the batch reads its own write
        assert not elsewhere()
        batch.commit()
    assert elsewhere()


def test_a_batch_left_without_commit_leaves_nothing(store):
    first, _ = opened_and_message("B-1", "S-1")
    effect = Effect(str(first.event_id), first.event_type, str(first.dispute_id),
                    [Notice("S-1", "seller", "s", "b\n")])
    with pytest.raises(RuntimeError), store.batch():
        store.record_all([effect])
        raise RuntimeError("the batch failed after its write")
    assert not store.handled(effect.event_id) and store.inbox("S-1") == []


def test_profiles_are_found_by_role_and_id_for_many_recipients_at_once(store):
    from services.notification.notices import Recipient
    from services.notification.store import PROFILES_PER_QUERY, Profile

    for n in range(0, PROFILES_PER_QUERY + 20, 3):
        store.set_profile(Recipient("seller", f"P-{n}"), Profile(f"s{n}@shop.example", None))
    wanted = [Recipient(role, f"P-{n}") for n in range(PROFILES_PER_QUERY + 20) for role in ("buyer", "seller")]
    found = store.profiles(wanted)
    assert found == {Recipient("seller", f"P-{n}"): Profile(f"s{n}@shop.example", None)
                     for n in range(0, PROFILES_PER_QUERY + 20, 3)}


def test_the_batch_reads_find_exactly_the_known_ids_whatever_their_number_and_on_one_connection(store):
    """The reads bind their ids as one array on PostgreSQL (a statement psycopg prepares after
    five runs, then planned once for any number of ids): run well past that, with counts that
    vary, on one connection, each finds exactly the ids stored and none of the others."""
    from services.notification.notices import Parties

    effects = [Effect(str(uuid4()), "DisputeOpened", str(uuid4()), [], Parties(f"B-{n}", f"S-{n}"))
               for n in range(40)]
    store.record_all(effects)
    with store.batch():
        for count in [1, 2, 3, 5, 8, 13, 21, 34, 40, 1, 7]:
            known = effects[:count]
            unknown = [str(uuid4()) for _ in range(count)]
            assert store.handled_among([e.event_id for e in known] + unknown) == {e.event_id for e in known}
            assert store.parties_of([e.dispute_id for e in known] + unknown) == {
                e.dispute_id: e.parties for e in known}


def test_an_event_of_a_dispute_never_opened_here_is_logged_with_its_ids(store):
    """The warning names the event's dispute, event and correlation id on its own line (no
    context variables bound per event of a batch): operators only are told."""
    from structlog.testing import capture_logs

    dispute_id, next_event = dispute("B-9", "S-9")
    next_event("DisputeOpened", {**OPENED, "buyer_id": "B-9", "seller_id": "S-9"})  # never seen here
    message = next_event("Escalated", {"reason": "NO_AGREEMENT", "automatic": False}, role="buyer")
    with capture_logs() as logs:
        outcome = handle_all(store, [message])
    assert outcome.stored == {0: True}
    [warning] = [line for line in logs if line["event"] == "dispute_parties_unknown"]
    assert (warning["dispute_id"], warning["event_id"], warning["correlation_id"]) == (
        str(dispute_id), str(message.event_id), "c-1")
    assert [n["recipient"] for n in store.inbox(None)] == ["operators"]


def test_an_event_twice_in_a_batch_is_logged_skipped_with_its_correlation_id(store):
    from structlog.testing import capture_logs

    first, second = opened_and_message("B-3", "S-3")
    with capture_logs() as logs:
        assert handle_all(store, [first, second, second]).stored == {0: True, 1: True, 2: False}
    [skipped] = [line for line in logs if line["event"] == "duplicate_skipped"]
    assert (skipped["event_id"], skipped["correlation_id"]) == (str(second.event_id), "c-1")
