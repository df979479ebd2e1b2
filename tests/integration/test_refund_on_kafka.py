"""The refund service on a real broker and PostgreSQL, paying through the simulator (HTTP):
one refund per resolution whatever is redelivered, retried, poisoned or interrupted.

Each test has its own topics (REFUND_DISPUTES_TOPIC / REFUND_ORDERS_TOPIC /
REFUND_REFUNDS_TOPIC), so nothing it publishes reaches the dispute service or another test.
The order of each dispute is published on the orders topic first, as the order service would.
"""

import asyncio
import os
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from contracts.disputes import Resolved
from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from contracts.refunds import RefundFailed, RefundIssued, parse_refund_event
from contracts.topics import dead_letter_topic
from services.common.kafka import ensure_topics, idempotent_producer
from services.refund.main import create_app
from services.refund.orders import PaidOrders
from services.refund.policy import idempotency_key_for, refund_for
from services.refund.settings import RefundSettings
from services.refund.lifecycle import PENDING
from services.refund.store import RefundStore
from services.common.database import sqlalchemy_engine
from tests.support.payment_simulator import Simulator
from tests.support.envelopes import appeal_decided_payload, opened_payload, resolved_payload
from tests.support.kafka import read_topic
from tests.support.orders import NOW, order_placed
from tests.support.refunds import terms_of

pytestmark = pytest.mark.integration
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))




@pytest.fixture
def simulator(tmp_path):
    with Simulator(tmp_path) as running:
        yield running


@pytest.fixture
async def settings(pg_url, kafka, simulator) -> RefundSettings:
    run = uuid4().hex[:8]
    # Provisioned as a deployment would: the refund service may not create what it reads.
    await ensure_topics(kafka.admin, {f"it-{run}.{name}.events": {} for name in ("disputes", "orders", "refunds")}, 3)
    return RefundSettings(
        database_url=pg_url, **kafka.settings(), topic_partitions=3,
        disputes_topic=f"it-{run}.disputes.events", refunds_topic=f"it-{run}.refunds.events",
        orders_topic=f"it-{run}.orders.events",
        provider_url=simulator.url, provider_timeout=0.5, provider_attempts=4,
        provider_backoff_initial=0.05, provider_backoff_max=0.2)


@asynccontextmanager
async def refund_service(settings: RefundSettings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app.state.store


class Dispute:
    """A dispute's events as the relay publishes them."""

    def __init__(self, paid: str = "100.00"):
        self.id, self.version, self.order_id = uuid4(), 0, f"O-{uuid4().hex[:8]}"
        self.placed = order_placed(order_id=self.order_id, amount=paid)
        self.opened = self.event("DisputeOpened", **opened_payload(
            order_id=self.order_id, paid_amount=paid, request_amount=paid))

    def event(self, event_type: str, **payload) -> EventEnvelope:
        self.version += 1
        return EventEnvelope(
            event_id=event_id_for(self.id, self.version), event_type=event_type, schema_version=1,
            dispute_id=self.id, dispute_version=self.version, occurred_at=NOW,
            correlation_id=f"c-{self.id}", actor=ActorRef(role="operator", id="OP-1"),
            payload=payload)

    def resolved(self, amount: str) -> EventEnvelope:
        return self.event("Resolved", **resolved_payload(amount))

    def appeal_decided(self, award: str) -> EventEnvelope:
        return self.event("AppealDecided", **appeal_decided_payload(award))


async def publish(settings: RefundSettings, *messages, key: bytes, topic: str | None = None) -> None:
    producer = idempotent_producer(settings.kafka_connection(), "refund-tests")
    await producer.start()
    try:
        for message in messages:
            value = message if isinstance(message, bytes) else message.kafka_value()
            await producer.send_and_wait(topic or settings.disputes_topic, value, key=key)
    finally:
        await producer.stop()


async def place(settings: RefundSettings, dispute: Dispute) -> None:
    """The order service publishes the dispute's order."""
    await publish(settings, dispute.placed.model_dump_json().encode(), key=dispute.order_id.encode(),
                  topic=settings.orders_topic)


async def results(settings: RefundSettings, expect: int) -> list[RefundIssued | RefundFailed]:
    records = await read_topic(settings.kafka_connection(), settings.refunds_topic, expect, timeout=45)
    return [parse_refund_event(record.value) for record in records]


async def test_a_resolution_with_a_refund_is_paid_and_announced_as_refund_issued(settings, simulator):
    dispute = Dispute()
    async with refund_service(settings):
        await place(settings, dispute)
        await publish(settings, dispute.opened, dispute.resolved("30.00"), key=dispute.id.bytes)
        [issued] = await results(settings, expect=1)
    [paid] = simulator.refunds(dispute.order_id)
    assert isinstance(issued, RefundIssued)
    assert (issued.amount, issued.provider_reference, paid["amount"]) == (
        Decimal("30.00"), paid["id"], "30.00")


async def test_a_redelivered_resolution_makes_no_second_refund(settings, simulator):
    dispute = Dispute()
    resolved = dispute.resolved("30.00")
    async with refund_service(settings):
        await place(settings, dispute)
        await publish(settings, dispute.opened, resolved, resolved, dispute.appeal_decided("10.00"),
                      key=dispute.id.bytes)
        issued = await results(settings, expect=2)
    assert sorted(r["amount"] for r in simulator.refunds(dispute.order_id)) == ["10.00", "30.00"]
    assert len({event.event_id for event in issued}) == 2


async def test_provider_500s_are_retried_and_end_in_refund_issued(settings, tmp_path):
    dispute = Dispute()
    with Simulator(tmp_path, fail_first_n=2) as failing:
        async with refund_service(settings.model_copy(update={"provider_url": failing.url})):
            await place(settings, dispute)
            await publish(settings, dispute.opened, dispute.resolved("30.00"), key=dispute.id.bytes)
            [issued] = await results(settings, expect=1)
        assert isinstance(issued, RefundIssued) and len(failing.refunds(dispute.order_id)) == 1


async def test_provider_timeouts_are_retried_and_end_in_one_refund_issued(settings, tmp_path):
    dispute = Dispute()
    with Simulator(tmp_path, timeout_first_n=2, timeout_seconds=1.5) as slow:
        async with refund_service(settings.model_copy(update={"provider_url": slow.url})):
            await place(settings, dispute)
            await publish(settings, dispute.opened, dispute.resolved("30.00"), key=dispute.id.bytes)
            [issued] = await results(settings, expect=1)
        [paid] = slow.refunds(dispute.order_id)
    assert isinstance(issued, RefundIssued) and issued.provider_reference == paid["id"]


async def test_a_poison_message_lands_in_the_dlq_and_the_next_good_message_is_paid(settings, simulator):
    dispute = Dispute()
    poison = b'{"event_type": "Resolved", "refund_amount": "oops"}'
    async with refund_service(settings):
        await place(settings, dispute)
        await publish(settings, dispute.opened, poison, dispute.resolved("30.00"), key=dispute.id.bytes)
        [issued] = await results(settings, expect=1)
    dlq = await read_topic(settings.kafka_connection(),
                           dead_letter_topic(settings.disputes_topic, "refund"), expect=1)
    assert [record.value for record in dlq] == [poison] and "dlq-error" in dict(dlq[0].headers)
    assert isinstance(issued, RefundIssued)


async def test_an_award_beyond_the_paid_amount_fails_for_good_without_reaching_the_provider(
        settings, simulator):
    dispute = Dispute(paid="50.00")
    async with refund_service(settings):
        await place(settings, dispute)
        await publish(settings, dispute.opened, dispute.resolved("30.00"),
                      dispute.appeal_decided("30.00"), key=dispute.id.bytes)
        issued, failed = await results(settings, expect=2)
    assert isinstance(failed, RefundFailed)
    assert (failed.reason, failed.retryable) == ("REFUND_EXCEEDS_PAID_AMOUNT", False)
    assert [r["amount"] for r in simulator.refunds(dispute.order_id)] == ["30.00"]


async def test_a_failed_refund_is_kept_and_an_operator_retry_pays_it(settings, tmp_path):
    dispute = Dispute()
    resolved = dispute.resolved("30.00")
    key = idempotency_key_for(str(dispute.id), str(resolved.event_id))
    with Simulator(tmp_path, fail_first_n=4) as failing:
        settings = settings.model_copy(update={"provider_url": failing.url})
        async with refund_service(settings):
            await place(settings, dispute)
            await publish(settings, dispute.opened, resolved, key=dispute.id.bytes)
            [failed] = await results(settings, expect=1)
        retry = subprocess.run([sys.executable, "-m", "services.refund.main", "retry", key], cwd=ROOT,
                               env={**os.environ, **env_of(settings)}, capture_output=True, timeout=60)
        paid = failing.refunds(dispute.order_id)
    assert isinstance(failed, RefundFailed) and failed.retryable
    assert retry.returncode == 0, retry.stderr.decode()[-2000:]
    _, issued = await results(settings, expect=2)
    assert isinstance(issued, RefundIssued) and [r["id"] for r in paid] == [issued.provider_reference]


async def test_on_start_up_a_pending_instruction_is_paid_once_with_the_providers_first_result(
        settings, simulator):
    dispute = Dispute()
    resolved = dispute.resolved("30.00")
    instruction = refund_for(str(resolved.event_id), str(dispute.id),
                             Resolved.model_validate(resolved.payload))
    store = RefundStore(sqlalchemy_engine(settings.database_url))
    store.create_tables()
    PaidOrders(store.engine).apply(dispute.placed)
    store.accept(event_id=str(resolved.event_id), instruction=instruction, correlation_id="c-1",
                 terms=terms_of(str(dispute.id), dispute.order_id))
    first = paid_before_the_crash(simulator, instruction, dispute.order_id, store)
    async with refund_service(settings):
        [issued] = await results(settings, expect=1)
    assert issued.provider_reference == first["id"]
    assert len(simulator.refunds(dispute.order_id)) == 1


def paid_before_the_crash(simulator, instruction, order_id, store) -> dict:
    stored = store.instruction(instruction.idempotency_key)
    assert stored.status == PENDING
    body = {"amount": "30.00", "currency": "USD", "order_reference": order_id,
            "metadata": {"dispute_id": stored.dispute_id, "refund_id": stored.refund_id}}
    return httpx.post(f"{simulator.url}/refunds", json=body,
                      headers={"Idempotency-Key": instruction.idempotency_key}).json()


def env_of(settings: RefundSettings) -> dict[str, str]:
    """The settings as the environment of a process (secrets in clear, unset ones left out)."""
    plain = lambda value: value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return {f"REFUND_{name.upper()}": plain(value) for name, value in settings if value is not None}


async def test_a_refund_whose_outcome_was_unknown_is_settled_without_a_restart(settings, tmp_path):
    """The provider took the refund but every answer came too late: RefundFailed(retryable);
    the periodic reconcile asks again with the same key and learns it was paid."""
    dispute = Dispute()
    with Simulator(tmp_path, timeout_first_n=2, timeout_seconds=1.5) as late:
        settings = settings.model_copy(update={"provider_url": late.url, "provider_attempts": 2,
                                               "reconcile_interval": 1.0})
        async with refund_service(settings):
            await place(settings, dispute)
            await publish(settings, dispute.opened, dispute.resolved("30.00"), key=dispute.id.bytes)
            failed, issued = await results(settings, expect=2)
        paid = late.refunds(dispute.order_id)
    assert isinstance(failed, RefundFailed) and failed.retryable
    assert isinstance(issued, RefundIssued) and [r["id"] for r in paid] == [issued.provider_reference]


async def test_a_resolution_in_an_unknown_schema_version_is_dead_lettered(settings, simulator):
    dispute = Dispute()
    future = dispute.resolved("30.00").model_copy(update={"schema_version": 99})
    async with refund_service(settings):
        await place(settings, dispute)
        await publish(settings, dispute.opened, future, dispute.resolved("20.00"),
                      key=dispute.id.bytes)
        [issued] = await results(settings, expect=1)
    dlq = await read_topic(settings.kafka_connection(),
                           dead_letter_topic(settings.disputes_topic, "refund"), expect=1)
    assert EventEnvelope.model_validate_json(dlq[0].value).schema_version == 99
    assert issued.amount == Decimal("20.00")


async def test_an_operator_retry_finishes_a_retry_that_was_killed_midway(settings, simulator):
    dispute = Dispute()
    resolved = dispute.resolved("30.00")
    instruction = refund_for(str(resolved.event_id), str(dispute.id),
                             Resolved.model_validate(resolved.payload))
    store = RefundStore(sqlalchemy_engine(settings.database_url))
    store.create_tables()
    PaidOrders(store.engine).apply(dispute.placed)
    store.accept(event_id=str(resolved.event_id), instruction=instruction, correlation_id="c-1",
                 terms=terms_of(str(dispute.id), dispute.order_id))
    store.record_failed(instruction.idempotency_key, "PROVIDER_UNREACHABLE", retryable=True)
    store.reopen(instruction.idempotency_key)  # ...and the retry process was killed here
    retry = subprocess.run(
        [sys.executable, "-m", "services.refund.main", "retry", instruction.idempotency_key],
        cwd=ROOT, env={**os.environ, **env_of(settings)}, capture_output=True, timeout=60)
    assert retry.returncode == 0, retry.stderr.decode()[-2000:]
    [issued] = await results(settings, expect=1)
    assert [r["id"] for r in simulator.refunds(dispute.order_id)] == [issued.provider_reference]


async def publish_on_partition(settings: RefundSettings, partition: int, *envelopes: EventEnvelope) -> None:
    producer = idempotent_producer(settings.kafka_connection(), "refund-tests")
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(settings.disputes_topic, envelope.kafka_value(),
                                         key=envelope.kafka_key(), partition=partition)
    finally:
        await producer.stop()


async def committed_offset(settings: RefundSettings, partition: int) -> int | None:
    from aiokafka import TopicPartition
    from services.common.kafka import admin_client

    admin = admin_client(settings.kafka_connection())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.consumer_group)
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(settings.disputes_topic, partition))
    return found.offset if found is not None else None


async def settled_offset(settings: RefundSettings, partition: int, within: float = 5.0) -> int | None:
    """The committed offset once it has left 0: a commit taken while the partition's first
    record was still in flight commits its start (0), and the next commit, a commit interval
    later, the first unfinished record; a slow machine may read between the two."""
    deadline = time.monotonic() + within
    while (offset := await committed_offset(settings, partition)) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return offset


async def test_a_resolution_waiting_for_its_order_holds_back_no_other_dispute_and_is_never_skipped(
        settings, simulator):
    """Concurrent handling: A's resolution waits for its order (redelivered), B behind it on the
    same partition is paid meanwhile; the committed offset never passes A's resolution; once
    A's order arrives A is paid, and each dispute exactly once."""
    waiting, other = Dispute(), Dispute()
    waiting_resolved = waiting.resolved("30.00")
    settings = settings.model_copy(update={"unknown_order_wait": 600.0})
    async with refund_service(settings):
        await place(settings, other)
        await publish_on_partition(settings, 0, waiting.opened, waiting_resolved, other.opened,
                                   other.resolved("20.00"))
        [issued] = await results(settings, expect=1)  # before: never, B waited behind A
        assert (issued.dispute_id, issued.amount) == (other.id, Decimal("20.00"))
        # offsets 0..3: A opened, A resolved (unfinished), B opened, B resolved
        assert await settled_offset(settings, 0) in (None, 1)
        await place(settings, waiting)
        issued = await results(settings, expect=2)
    assert sorted((r.dispute_id == waiting.id, r.amount) for r in issued) == [
        (False, Decimal("20.00")), (True, Decimal("30.00"))]
    assert [r["amount"] for r in simulator.refunds(waiting.order_id)] == ["30.00"]
    assert [r["amount"] for r in simulator.refunds(other.order_id)] == ["20.00"]
    assert await committed_offset(settings, 0) == 4


async def test_a_burst_of_disputes_is_paid_once_each_in_each_disputes_order(settings, simulator):
    """Many disputes in one batch, each opened, resolved and awarded on appeal: the terms come
    before the resolution (nothing untrusted) and each instruction is paid once."""
    disputes = [Dispute() for _ in range(30)]
    for dispute in disputes:
        await place(settings, dispute)
    await publish_on_partition(settings, 1, *[e for d in disputes for e in
                                              (d.opened, d.resolved("30.00"), d.appeal_decided("10.00"))])
    async with refund_service(settings):
        issued = await results(settings, expect=60)
    assert all(isinstance(r, RefundIssued) for r in issued) and len(issued) == 60
    for dispute in disputes:
        assert [r.amount for r in issued if r.dispute_id == dispute.id] == [Decimal("30.00"), Decimal("10.00")]
        assert sorted(r["amount"] for r in simulator.refunds(dispute.order_id)) == ["10.00", "30.00"]
    dlq = await read_topic(settings.kafka_connection(),
                           dead_letter_topic(settings.disputes_topic, "refund"), expect=1, timeout=2)
    assert dlq == []


async def publish_records(settings: RefundSettings, partition: int, *records: tuple[bytes, list]) -> None:
    """(value, headers) records on one partition, in order."""
    producer = idempotent_producer(settings.kafka_connection(), "refund-tests")
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(settings.disputes_topic, value, key=b"one-partition",
                                         partition=partition, headers=headers)
    finally:
        await producer.stop()


def as_record(envelope: EventEnvelope) -> tuple[bytes, list]:
    return envelope.kafka_value(), envelope.kafka_headers()


async def test_ignored_events_are_committed_unread_around_a_resolution_that_is_paid(settings, simulator):
    """The prefilter: events the refund service does not handle (and one that is not even JSON,
    naming no handled type) are committed without being read or dead-lettered; the resolution
    between them is paid once and the partition committed to its end."""
    dispute = Dispute()
    posted = dispute.event("MessagePosted", message_id="M-1", visibility="PARTIES")
    resolved = dispute.resolved("30.00")
    later = dispute.event("MessagePosted", message_id="M-2", visibility="PARTIES")
    async with refund_service(settings):
        await place(settings, dispute)
        await publish_records(settings, 2, as_record(dispute.opened), as_record(posted),
                              (b'{"event_type": "MessagePos', []), as_record(resolved), as_record(later))
        [issued] = await results(settings, expect=1)
        assert await eventually_committed(settings, 2, 5)
    assert isinstance(issued, RefundIssued) and issued.causation_id == str(resolved.event_id)
    assert [r["amount"] for r in simulator.refunds(dispute.order_id)] == ["30.00"]
    dlq = await read_topic(settings.kafka_connection(),
                           dead_letter_topic(settings.disputes_topic, "refund"), expect=1, timeout=2)
    assert dlq == []


async def test_a_resolution_whose_headers_say_message_posted_is_still_paid(settings, simulator):
    """Only the value decides what a record is: headers claiming an ignored type never make the
    service skip a resolution."""
    dispute = Dispute()
    resolved = dispute.resolved("25.00")
    lying = [(name, value.replace(b"Resolved", b"MessagePosted")) for name, value in resolved.kafka_headers()]
    assert lying != resolved.kafka_headers()
    async with refund_service(settings):
        await place(settings, dispute)
        await publish_records(settings, 0, as_record(dispute.opened), (resolved.kafka_value(), lying))
        [issued] = await results(settings, expect=1)
    assert isinstance(issued, RefundIssued) and issued.amount == Decimal("25.00")
    assert [r["amount"] for r in simulator.refunds(dispute.order_id)] == ["25.00"]


async def eventually_committed(settings: RefundSettings, partition: int, offset: int, timeout: float = 20) -> bool:
    import asyncio

    for _ in range(int(timeout / 0.2)):
        if await committed_offset(settings, partition) == offset:
            return True
        await asyncio.sleep(0.2)
    return False
