"""The consumer's path marks a published result behind (services/refund/desk.py `_announce`):
its record is finished once the result is on Kafka, the mark follows with the other lanes'
marks. Nothing is lost by that: until the mark is written the store says "not published",
and the reconcile publishes such a result again under the same event id (SQLite)."""

import asyncio
import threading

import pytest

from services.common.database import sqlalchemy_engine
from services.refund.desk import RefundDesk
from services.refund.dispute_consumer import on_dispute_fact, read_dispute_record
from services.refund.lifecycle import ISSUED
from services.refund.store import RefundStore
from services.refund.trust import TrustGate, TrustMetrics
from tests.component.test_refund_desk import Provider, Publisher, envelope
from tests.support.envelopes import resolved_payload
from tests.support.refunds import opened_on_known_order


class HeldMarks(RefundStore):
    """A store whose published marks wait until `release` (or fail when `fail` is set)."""

    def __init__(self, engine):
        super().__init__(engine)
        self.release, self.fail = threading.Event(), False

    def published_from_each(self, stored):
        if not self.release.wait(10):
            raise AssertionError("the test never released the marks")
        if self.fail:
            raise ConnectionError("the database is away")
        return super().published_from_each(stored)


@pytest.fixture
def store(tmp_path) -> HeldMarks:
    store = HeldMarks(sqlalchemy_engine(f"sqlite:///{tmp_path}/refund.sqlite"))
    store.create_tables()
    return store


async def consume_resolution(store: RefundStore, desk: RefundDesk) -> str:
    resolved = envelope("Resolved", **resolved_payload("30.00"))
    dispute_id = opened_on_known_order(store, dispute_id=str(resolved.dispute_id))
    await on_dispute_fact(store, desk, TrustGate(store, TrustMetrics()), resolved,
                          read_dispute_record(resolved.kafka_value())[1])
    return dispute_id


async def test_a_consumed_resolution_is_finished_once_on_kafka_and_marked_published_behind(store):
    publisher = Publisher()
    desk = RefundDesk(store, Provider(), publisher)
    dispute_id = await consume_resolution(store, desk)  # returned with its mark still held
    [stored] = store.for_dispute(dispute_id)
    assert [type(e).__name__ for e in publisher.published] == ["RefundIssued"]
    assert (stored.status, stored.published) == (ISSUED, False)
    store.release.set()
    await desk.marks_written()
    [stored] = store.for_dispute(dispute_id)
    assert stored.published


async def test_a_mark_failing_behind_leaves_the_result_to_the_reconcile_which_publishes_it_again(store):
    provider, publisher = Provider(), Publisher()
    desk = RefundDesk(store, provider, publisher)
    store.fail = True
    store.release.set()
    dispute_id = await consume_resolution(store, desk)
    await desk.marks_written()  # logged, not raised: the record was finished already
    [stored] = store.for_dispute(dispute_id)
    assert (stored.status, stored.published) == (ISSUED, False)
    store.fail = False
    assert await desk.reconcile() == 1
    [first, again] = publisher.published
    assert first.event_id == again.event_id  # a duplicate the dispute service ignores
    assert len(provider.calls) == 1  # paid once
    [stored] = store.for_dispute(dispute_id)
    assert stored.published


async def test_the_reconcile_leaves_alone_a_result_whose_mark_is_being_written(store):
    publisher = Publisher()
    desk = RefundDesk(store, Provider(), publisher)
    await consume_resolution(store, desk)
    assert await desk.reconcile() == 0  # published already: its mark is on its way
    store.release.set()
    await desk.marks_written()
    assert len(publisher.published) == 1
    assert await desk.reconcile() == 0


async def test_a_resolution_redelivered_while_its_mark_is_written_is_not_published_again(store):
    """The same Resolved twice in a row on its lane (a redelivery): the second waits for the
    first one's mark, and finds its result published."""
    resolved = envelope("Resolved", **resolved_payload("30.00"))
    opened_on_known_order(store, dispute_id=str(resolved.dispute_id))
    provider, publisher = Provider(), Publisher()
    desk = RefundDesk(store, provider, publisher)
    gate = TrustGate(store, TrustMetrics())
    facts = read_dispute_record(resolved.kafka_value())[1]
    await on_dispute_fact(store, desk, gate, resolved, facts)
    again = asyncio.create_task(on_dispute_fact(store, desk, gate, resolved, facts))
    await asyncio.sleep(0.1)
    assert not again.done()  # waiting for the mark
    store.release.set()
    await again
    assert len(publisher.published) == 1 and len(provider.calls) == 1


async def test_a_stop_waits_for_the_marks_behind_no_longer_than_its_grace(store):
    """A database that stopped answering must not hold the service's stop for ever: the marks
    left are given up (the reconcile publishes their results again under the same event ids)."""
    desk = RefundDesk(store, Provider(), Publisher())
    dispute_id = await consume_resolution(store, desk)  # its mark held
    await asyncio.wait_for(desk.marks_written(grace=0.2), 5)
    [stored] = store.for_dispute(dispute_id)
    assert stored.published is False
    store.release.set()
    await desk.marks_written()
    [stored] = store.for_dispute(dispute_id)
    assert stored.published


async def test_another_replicas_periodic_reconcile_leaves_a_result_just_settled_to_its_mark(store):
    """Replica A published a result and writes its mark behind; replica B (its own in-flight
    set) reconciles periodically: a result settled within the interval is left to A."""
    publisher_a, publisher_b = Publisher(), Publisher()
    desk_a = RefundDesk(store, Provider(), publisher_a)
    desk_b = RefundDesk(store, Provider(), publisher_b)
    await consume_resolution(store, desk_a)
    assert await desk_b.reconcile(older_than=30) == 0
    assert publisher_b.published == []
    store.release.set()
    await desk_a.marks_written()
    assert await desk_b.reconcile() == 0  # marked published now: nothing left for anyone


async def test_the_periodic_reconcile_takes_an_unmarked_result_once_older_than_its_interval(store):
    """Left alone while its mark may be on its way, never for ever: once settled `older_than`
    seconds ago, the periodic reconcile publishes it again under the same event id."""
    publisher = Publisher()
    desk = RefundDesk(store, Provider(), publisher)
    store.fail = True
    store.release.set()
    dispute_id = await consume_resolution(store, desk)
    await desk.marks_written()  # the mark failed: logged
    store.fail = False
    assert await desk.reconcile(older_than=30) == 0  # just settled
    await asyncio.sleep(0.3)
    assert await desk.reconcile(older_than=0.2) == 1
    [first, again] = publisher.published
    assert first.event_id == again.event_id
    [stored] = store.for_dispute(dispute_id)
    assert stored.published
