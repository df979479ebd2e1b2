"""The refund desk and consumer with a scripted provider and a SQLite store: what an unknown
provider outcome holds, what a late success or a stuck retry becomes, what the ceiling counts,
and what reaches the dead-letter topic."""

import asyncio
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import text

from contracts import disputes
from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from contracts.refunds import RefundFailed, RefundIssued
from services.common.database import sqlalchemy_engine
from services.refund import dispute_consumer
from services.refund.desk import RefundDesk
from services.common.records import Refused
from services.refund.dispute_consumer import handle_or_redeliver, read_dispute_record
from services.refund.gateway import ProviderError, ProviderRefund, TransientProviderError
from services.refund.lifecycle import FAILED, ISSUED, PENDING
from services.refund.main import PeriodicReconcile
from services.refund.policy import OrderTerms, OutsideRefund, RefundFacts, refund_for
from services.refund.store import RefundStore
from services.refund.trust import TrustGate, TrustMetrics
from tests.support.envelopes import appeal_decided_payload, opened_payload, resolved_payload
from tests.support.orders import NOW
from tests.support.refunds import opened_on_known_order


def refund_facts(envelope):
    """What the consumer reads from this event as it comes off Kafka."""
    return read_dispute_record(envelope.kafka_value())[1]


class Publisher:
    def __init__(self):
        self.published = []

    async def publish(self, event) -> None:
        self.published.append(event)


class Provider:
    """Pays at most once per key, like the real one; `answers` scripts what the caller hears
    (an exception = the caller never learns the outcome, though the refund may be paid)."""

    def __init__(self, *answers):
        self.answers, self.paid, self.calls = list(answers), {}, []

    async def refund(self, *, idempotency_key, amount, currency, order_reference, metadata):
        self.calls.append(idempotency_key)
        answer = self.answers.pop(0) if self.answers else "pay"
        if answer in ("pay", "pay-then-timeout"):
            self.paid.setdefault(idempotency_key, (f"re_{len(self.paid) + 1}", amount))
        if answer == "pay-then-timeout":
            raise TransientProviderError("PROVIDER_UNREACHABLE: ReadTimeout")
        if isinstance(answer, Exception):
            raise answer
        return ProviderRefund(reference=self.paid[idempotency_key][0], status="succeeded")

    def total(self) -> Decimal:
        return sum((amount for _, amount in self.paid.values()), Decimal(0))


@pytest.fixture
def store(tmp_path) -> RefundStore:
    store = RefundStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/refund.sqlite"))
    store.create_tables()
    return store


def dispute(store: RefundStore, paid: str = "100.00", refunded_before: str = "0",
            dispute_id: str | None = None) -> str:
    return opened_on_known_order(store, paid, refunded_before, dispute_id=dispute_id)


def gate(store: RefundStore) -> TrustGate:
    return TrustGate(store, TrustMetrics())


def award(store: RefundStore, dispute_id: str, amount: str) -> str:
    event_id = str(uuid4())
    decided = disputes.AppealDecided.model_validate(appeal_decided_payload(amount))
    instruction = refund_for(event_id, dispute_id, decided)
    store.accept(event_id=event_id, terms=None, instruction=instruction, correlation_id="c-1")
    return instruction.idempotency_key


# 1. An unknown outcome keeps its reservation -------------------------------------------------

async def test_a_refund_whose_outcome_is_unknown_keeps_holding_its_amount(store):
    dispute_id = dispute(store, paid="50.00")
    provider, publisher = Provider("pay-then-timeout"), Publisher()
    desk = RefundDesk(store, provider, publisher)
    first = await desk.pay(award(store, dispute_id, "30.00"))
    second = await desk.pay(award(store, dispute_id, "30.00"))
    assert (first.status, first.reserved, first.retryable) == (FAILED, True, True)
    assert (second.status, second.reason) == (FAILED, "REFUND_EXCEEDS_PAID_AMOUNT")
    assert provider.total() == Decimal("30.00")
    assert isinstance(publisher.published[0], RefundFailed) and publisher.published[0].retryable


async def test_a_definitive_provider_refusal_releases_the_amount(store):
    dispute_id = dispute(store, paid="50.00")
    provider = Provider(ProviderError("CARD_CLOSED", retryable=False))
    desk = RefundDesk(store, provider, Publisher())
    refused = await desk.pay(award(store, dispute_id, "30.00"))
    paid = await desk.pay(award(store, dispute_id, "30.00"))
    assert (refused.status, refused.reserved, refused.retryable) == (FAILED, False, False)
    assert paid.status == ISSUED


async def test_a_provider_status_still_pending_is_an_unknown_outcome(store):
    class Pending(Provider):
        async def refund(self, **kwargs):
            return ProviderRefund(reference="re_p", status="pending")

    stored = await RefundDesk(store, Pending(), Publisher()).pay(
        award(store, dispute(store), "30.00"))
    assert (stored.status, stored.reserved, stored.retryable) == (FAILED, True, True)


# 2. A late success wins over a FAILED recorded by another process -----------------------------

async def test_a_provider_success_after_another_process_recorded_failed_is_issued_and_published(store):
    key = award(store, dispute(store), "30.00")
    publisher = Publisher()

    class SlowButPaid(Provider):
        async def refund(self, **kwargs):
            # Meanwhile another process gave up on the same key (its own call timed out).
            store.record_failed(key, "PROVIDER_UNREACHABLE: ReadTimeout", retryable=True)
            return await super().refund(**kwargs)

    stored = await RefundDesk(store, SlowButPaid(), publisher).pay(key)
    assert (stored.status, stored.provider_reference) == (ISSUED, "re_1")
    [published] = publisher.published
    assert isinstance(published, RefundIssued) and published.provider_reference == "re_1"
    assert store.instruction(key).published


def test_recording_issued_moves_a_failed_instruction_on_and_unpublishes_it(store):
    key = award(store, dispute(store), "30.00")
    store.record_failed(key, "PROVIDER_UNREACHABLE", retryable=True)
    store.mark_published(key, 1, FAILED)
    assert store.record_issued(key, "re_9")
    stored = store.instruction(key)
    assert (stored.status, stored.provider_reference, stored.published) == (ISSUED, "re_9", False)


def test_marking_a_failed_result_published_leaves_a_late_success_unpublished(store):
    key = award(store, dispute(store), "30.00")
    store.record_failed(key, "PROVIDER_UNREACHABLE", retryable=True)
    store.record_issued(key, "re_9")
    store.mark_published(key, 1, FAILED)  # the process that published FAILED, a moment late
    assert store.instruction(key).published is False


async def test_an_instruction_reopened_while_it_was_settled_announces_no_result(store, monkeypatch):
    """An operator reopened it between our recording FAILED and our reading it back: it is
    PENDING again, with no result to publish."""
    key = award(store, dispute(store), "30.00")
    record_failed = store.record_failed

    def failed_then_reopened(idempotency_key, reason, retryable):
        record_failed(idempotency_key, reason, retryable)
        store.reopen(idempotency_key)

    monkeypatch.setattr(store, "record_failed", failed_then_reopened)
    publisher = Publisher()
    stored = await RefundDesk(store, Provider("pay-then-timeout"), publisher).pay(key)
    assert (stored.status, stored.attempt, stored.published, publisher.published) == (
        PENDING, 2, False, [])


# 3. Stuck retries and the periodic reconcile ---------------------------------------------------

async def test_an_operator_retry_of_a_pending_instruction_pays_it(store):
    key = award(store, dispute(store), "30.00")
    store.record_failed(key, "PROVIDER_UNREACHABLE", retryable=True)
    assert store.reopen(key)  # the first retry process was killed right here
    provider, publisher = Provider(), Publisher()
    stored = await RefundDesk(store, provider, publisher).retry(key)
    assert (stored.status, provider.calls) == (ISSUED, [key])
    assert [type(event) for event in publisher.published] == [RefundIssued]


async def test_an_operator_retry_of_an_unknown_outcome_asks_the_provider_without_rechecking(store):
    dispute_id = dispute(store, paid="30.00")
    provider = Provider("pay-then-timeout")
    desk = RefundDesk(store, provider, Publisher())
    key = award(store, dispute_id, "30.00")
    await desk.pay(key)
    # The order was refunded outside the dispute meanwhile: a re-check would refuse a refund
    # the provider has in fact already paid.
    store.accept(event_id=str(uuid4()), terms=None, instruction=None, correlation_id=None,
                 outside_refund=OutsideRefund(dispute_id, Decimal("10.00")))
    stored = await desk.retry(key)
    assert (stored.status, provider.calls, len(provider.paid)) == (ISSUED, [key, key], 1)


async def test_reconcile_asks_again_about_unknown_outcomes_and_leaves_refusals_alone(store):
    dispute_id = dispute(store)
    unknown, refused = award(store, dispute_id, "30.00"), award(store, dispute_id, "20.00")
    publisher = Publisher()
    first = RefundDesk(store, Provider("pay-then-timeout",
                                       ProviderError("CARD_CLOSED", retryable=False)), publisher)
    await first.pay(unknown)
    await first.pay(refused)
    provider = Provider()
    assert await RefundDesk(store, provider, publisher).reconcile() == 1
    assert provider.calls == [unknown]
    assert (store.instruction(unknown).status, store.instruction(refused).status) == (ISSUED, FAILED)
    assert [type(e).__name__ for e in publisher.published] == [
        "RefundFailed", "RefundFailed", "RefundIssued"]


async def test_reconcile_publishes_nothing_new_while_the_outcome_stays_unknown(store):
    key = award(store, dispute(store), "30.00")
    publisher = Publisher()
    timeout = TransientProviderError("PROVIDER_UNREACHABLE: ReadTimeout")
    desk = RefundDesk(store, Provider(timeout, timeout), publisher)
    await desk.pay(key)
    await desk.reconcile()
    assert len(publisher.published) == 1 and store.instruction(key).reserved


async def test_an_unknown_outcome_later_refused_for_good_releases_and_announces_it(store):
    key = award(store, dispute(store), "30.00")
    publisher = Publisher()
    desk = RefundDesk(store, Provider(TransientProviderError("PROVIDER_UNAVAILABLE: HTTP 503"),
                                      ProviderError("CARD_CLOSED", retryable=False)), publisher)
    await desk.pay(key)
    await desk.reconcile()
    stored = store.instruction(key)
    assert (stored.status, stored.reserved, stored.reason) == (FAILED, False, "CARD_CLOSED")
    assert [e.retryable for e in publisher.published] == [True, False]
    assert len({e.event_id for e in publisher.published}) == 2


async def test_the_periodic_reconcile_leaves_fresh_pending_instructions_to_their_consumer(store):
    key = award(store, dispute(store), "30.00")
    provider = Provider()
    assert await RefundDesk(store, provider, Publisher()).reconcile(older_than=60) == 0
    assert store.instruction(key).status == PENDING and provider.calls == []


class HeldProvider(Provider):
    """A provider call that lasts until the test lets it answer: a replica in mid-payment."""

    def __init__(self, *answers):
        super().__init__(*answers)
        self.called, self.answer = asyncio.Event(), asyncio.Event()

    async def refund(self, **kwargs):
        self.called.set()
        await self.answer.wait()
        return await super().refund(**kwargs)


async def test_the_start_up_reconcile_leaves_a_reservation_a_live_replica_holds(store):
    """Two replicas: one reserved the instruction and is waiting for the provider; the other
    starts now. Driving it too would ask the provider under the same key while the first call
    is in flight, and a failing answer there would announce a RefundFailed for a refund that
    is being paid."""
    key = award(store, dispute(store), "30.00")
    holding, holder_heard = HeldProvider(), Publisher()
    paying = asyncio.create_task(RefundDesk(store, holding, holder_heard, reservation_lease=60).pay(key))
    await holding.called.wait()
    starting, heard = Provider(TransientProviderError("PROVIDER_UNAVAILABLE: HTTP 409 in progress")), Publisher()
    assert await RefundDesk(store, starting, heard, reservation_lease=60).reconcile() == 0
    holding.answer.set()
    await paying
    assert (starting.calls, heard.published) == ([], [])
    assert [type(e).__name__ for e in holder_heard.published] == ["RefundIssued"]
    assert store.instruction(key).status == ISSUED


async def test_a_reconcile_leaves_an_instruction_another_replica_reserved_while_it_worked(store):
    """The lease is looked at when each instruction's turn comes, not only when the list was
    made: a reconcile paying several refunds one after another takes seconds each, and a
    consumer of another replica may reserve one of the later ones meanwhile."""
    first_key, second_key = (award(store, dispute(store), "30.00") for _ in range(2))
    holding, holder_heard = HeldProvider(), Publisher()
    other: list[asyncio.Task] = []

    class FirstCallLetsAnotherReplicaReserve(Provider):
        async def refund(self, **kwargs):
            if not self.calls:  # while this reconcile is on its first refund ...
                later = second_key if kwargs["idempotency_key"] == first_key else first_key
                other.append(asyncio.create_task(
                    RefundDesk(store, holding, holder_heard, reservation_lease=60).pay(later)))
                await holding.called.wait()  # ... another replica reserved the other one
            return await super().refund(**kwargs)

    reconciling = FirstCallLetsAnotherReplicaReserve()
    assert await RefundDesk(store, reconciling, Publisher(), reservation_lease=60).reconcile() == 1
    holding.answer.set()
    await other[0]
    assert len(reconciling.calls) == 1 and holding.calls == [k for k in (first_key, second_key)
                                                            if k not in reconciling.calls]
    assert {store.instruction(k).status for k in (first_key, second_key)} == {ISSUED}
    assert [type(e).__name__ for e in holder_heard.published] == ["RefundIssued"]


async def test_a_reservation_older_than_the_lease_is_driven_again_its_holder_is_gone(store):
    key = award(store, dispute(store), "30.00")
    gone = HeldProvider()
    abandoned = asyncio.create_task(RefundDesk(store, gone, Publisher(), reservation_lease=60).pay(key))
    await gone.called.wait()
    abandoned.cancel()  # the holder died in its provider call, the reservation stays
    with store.engine.begin() as conn:  # ... two minutes ago
        conn.execute(text("UPDATE refund_instructions SET reserved_at = :at"),
                      {"at": datetime.now(timezone.utc) - timedelta(minutes=2)})
    provider, publisher = Provider(), Publisher()
    assert await RefundDesk(store, provider, publisher, reservation_lease=60).reconcile() == 1
    assert provider.calls == [key] and store.instruction(key).status == ISSUED
    assert [type(e).__name__ for e in publisher.published] == ["RefundIssued"]


async def test_the_service_reconciles_periodically():
    class CountingDesk:
        def __init__(self):
            self.rounds = []

        async def reconcile(self, older_than: float = 0) -> int:
            self.rounds.append(older_than)
            if len(self.rounds) == 1:
                raise ConnectionError("database away")  # one bad round stops nothing
            return 0

    desk = CountingDesk()
    loop = PeriodicReconcile(desk, interval=0.01)
    loop.begin()
    await asyncio.sleep(0.2)
    await loop.end()
    assert len(desk.rounds) >= 3 and set(desk.rounds) == {0.01}


# 4. The ceiling is the paid amount less refunds outside disputes -------------------------------

async def test_a_refund_above_what_was_paid_less_refunded_before_opening_is_refused(store):
    dispute_id = dispute(store, paid="100.00", refunded_before="80.00")
    desk = RefundDesk(store, Provider(), Publisher())
    refused = await desk.pay(award(store, dispute_id, "30.00"))
    paid = await desk.pay(award(store, dispute_id, "20.00"))
    assert (refused.status, refused.reason, paid.status) == (
        FAILED, "REFUND_EXCEEDS_PAID_AMOUNT", ISSUED)


async def test_a_refund_outside_the_open_dispute_lowers_its_ceiling_and_never_rises_back(store):
    dispute_id = dispute(store, paid="100.00")
    for refunded in ("80.00", "50.00", "80.00"):  # absolute totals; one replayed, one stale
        store.accept(event_id=str(uuid4()), terms=None, instruction=None, correlation_id=None,
                     outside_refund=OutsideRefund(dispute_id, Decimal(refunded)))
    assert store.terms(dispute_id).refunded_before == Decimal("80.00")
    refused = await RefundDesk(store, Provider(), Publisher()).pay(award(store, dispute_id, "20.01"))
    assert refused.reason == "REFUND_EXCEEDS_PAID_AMOUNT"


def envelope(event_type: str, version: int = 1, **payload) -> EventEnvelope:
    dispute_id = uuid4()
    return EventEnvelope(event_id=event_id_for(dispute_id, 3), event_type=event_type,
                         schema_version=version, dispute_id=dispute_id, dispute_version=3,
                         occurred_at=NOW, correlation_id="c-1",
                         actor=ActorRef(role="service", id="orders"), payload=payload)


def test_a_dispute_opening_and_a_refund_outside_it_are_read_from_the_consumed_events():
    opened = refund_facts(envelope("DisputeOpened", **opened_payload(refunded_before="15.00")))
    outside = refund_facts(envelope("RefundedOutsideDispute", order_event_id="oe-1",
                                    refunded_before="40.00"))
    assert opened.terms.refunded_before == Decimal("15.00")
    assert outside.outside_refund.refunded_before == Decimal("40.00")


async def test_the_consumer_stores_a_refund_outside_the_dispute(store):
    event = envelope("RefundedOutsideDispute", order_event_id="oe-1", refunded_before="40.00")
    dispute_id = str(event.dispute_id)
    store.accept(event_id=str(uuid4()), instruction=None, correlation_id=None,
                 terms=OrderTerms(dispute_id, "O-1", Decimal("100.00"), "USD"))
    await handle_or_redeliver(store, RefundDesk(store, Provider(), Publisher()), gate(store),
                              event, refund_facts(event))
    assert store.terms(dispute_id).refundable == Decimal("60.00")


# 5. Schema versions ----------------------------------------------------------------------------

def test_a_handled_event_in_an_unknown_schema_version_is_refused_for_the_dead_letter_topic():
    with pytest.raises(Refused) as refused:
        refund_facts(envelope("Resolved", version=99, **resolved_payload("30.00")))
    assert refused.value.reason == "UNKNOWN_SCHEMA_VERSION"


UNREADABLE = {
    "a resolution with an unreadable amount": ("Resolved", resolved_payload("thirty")),
    "a resolution with money but no currency": (
        "Resolved", {k: v for k, v in resolved_payload("30.00").items() if k != "currency"}),
    "an appeal award under a key its contract does not have": (
        "AppealDecided", {**appeal_decided_payload("0"), "extra_refund_amount": "15.00"}),
    "a dispute opening with an unreadable paid amount": (
        "DisputeOpened", opened_payload(paid_amount="lots")),
    **{f"a dispute opening without its {field}": (
        "DisputeOpened", {k: v for k, v in opened_payload().items() if k != field})
       for field in ("paid_amount", "item_id", "buyer_id", "seller_id")},
    "a refund outside the dispute without its total": (
        "RefundedOutsideDispute", {"order_event_id": "oe-1"}),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_a_handled_event_its_contract_cannot_read_is_refused_for_the_dead_letter_topic(case):
    event_type, payload = UNREADABLE[case]
    with pytest.raises(Refused) as refused:
        refund_facts(envelope(event_type, **payload))
    assert refused.value.reason == "CONTRACT_VIOLATION"


def test_an_event_type_the_refund_service_does_not_handle_is_ignored_whatever_its_version():
    assert not refund_facts(envelope("SomethingNew", version=7, anything="at all"))


def test_an_older_schema_version_is_upcast_before_it_is_read(monkeypatch):
    monkeypatch.setitem(disputes.REGISTRY, "Resolved", (2, disputes.REGISTRY["Resolved"][1]))
    monkeypatch.setitem(disputes.UPCASTERS, ("Resolved", 1),
                        lambda p: {**{k: v for k, v in p.items() if k != "amount"},
                                   "refund_amount": p["amount"]})
    v1 = {k: v for k, v in resolved_payload("30.00").items() if k != "refund_amount"}
    facts = refund_facts(envelope("Resolved", version=1, amount="30.00", **v1))
    assert facts.instruction.amount == Decimal("30.00")


# 6. No hot loop while the database is away -----------------------------------------------------

async def test_a_failure_after_reading_pauses_before_kafka_redelivers(store, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def database_away(**_):
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    event = envelope("Resolved", **resolved_payload("30.00"))
    dispute(store, dispute_id=str(event.dispute_id))
    monkeypatch.setattr(store, "accept_resolution", database_away)  # how a resolution is recorded
    started = time.monotonic()
    with pytest.raises(OperationalError):
        await handle_or_redeliver(store, RefundDesk(store, Provider(), Publisher()), gate(store),
                                  event, refund_facts(event), pause=0.3)
    assert time.monotonic() - started >= 0.3


def test_the_consumer_pauses_about_a_second_by_default():
    assert 0.5 <= dispute_consumer.REDELIVERY_PAUSE <= 2


# 7. Correlation ids of any length --------------------------------------------------------------

def test_a_long_correlation_id_is_stored_whole(store):
    dispute_id = dispute(store)
    resolved = disputes.Resolved.model_validate(resolved_payload("1"))
    instruction = refund_for("e-1", dispute_id, resolved)
    store.accept(event_id="e-1", terms=None, instruction=instruction, correlation_id="c" * 1000)
    assert store.instruction(instruction.idempotency_key).correlation_id == "c" * 1000


def test_facts_without_anything_to_do_are_falsy():
    assert not RefundFacts()
