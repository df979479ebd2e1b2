"""The refund service as a process, killed with SIGKILL right after the provider accepted a
refund and before its own commit; restarted, it pays nothing twice: the start-up reconcile
replays the same idempotency key and the provider returns its first result."""

import asyncio
import signal
import time
from uuid import uuid4

import httpx
import pytest

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from contracts.refunds import RefundIssued, parse_refund_event
from infra.ports import free_port
from services.common.kafka import ensure_topics, idempotent_producer
from tests.support.envelopes import opened_payload, resolved_payload
from tests.support.kafka import read_topic
from tests.support.orders import NOW, order_placed
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def simulator(tmp_path):
    port = free_port()
    env = {"PAYSIM_DATABASE_URL": f"sqlite:///{tmp_path}/paysim.sqlite", "PAYSIM_HTTP_PORT": str(port)}
    proc = ServiceProcess("payment-simulator", "standins.payment_provider.main", [], env, tmp_path,
                          f"http://127.0.0.1:{port}/health").wait_healthy()
    yield f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture
def refund_env(postgres, kafka, simulator) -> dict[str, str]:
    run = uuid4().hex[:8]
    # provisioned as a deployment would: the refund service may not create what it reads
    asyncio.run(ensure_topics(kafka.admin, {f"e2e-{run}.{name}.events": {} for name in
                                            ("disputes", "orders", "refunds")}, 3))
    return {"REFUND_DATABASE_URL": postgres.create_database("e2e_refund_crash"),
            **kafka.env("REFUND", "admin"), "REFUND_TOPIC_PARTITIONS": "3",
            "REFUND_DISPUTES_TOPIC": f"e2e-{run}.disputes.events",
            "REFUND_ORDERS_TOPIC": f"e2e-{run}.orders.events",
            "REFUND_REFUNDS_TOPIC": f"e2e-{run}.refunds.events",
            "REFUND_PROVIDER_URL": simulator, "REFUND_PROVIDER_BACKOFF_INITIAL": "0.05"}


def start_refund(env: dict[str, str], tmp_path, name: str) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(name, "services.refund.main", [], {**env, "REFUND_HTTP_PORT": str(port)},
                          tmp_path, f"http://127.0.0.1:{port}/health").wait_healthy()


def dispute_events(order_id: str) -> tuple[EventEnvelope, EventEnvelope]:
    dispute_id = uuid4()

    def event(version: int, event_type: str, **payload) -> EventEnvelope:
        return EventEnvelope(event_id=event_id_for(dispute_id, version), event_type=event_type,
                             schema_version=1, dispute_id=dispute_id, dispute_version=version,
                             occurred_at=NOW, correlation_id="c-crash",
                             actor=ActorRef(role="seller", id="S-1"), payload=payload)

    return (event(1, "DisputeOpened", **opened_payload(order_id=order_id)),
            event(2, "Resolved", **resolved_payload("40.00", resolved_by="SELLER_ACCEPTED_CLAIM")))


async def publish(bootstrap: str, topic: str, *events: EventEnvelope) -> None:
    producer = idempotent_producer(bootstrap, "e2e-refund-crash")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, event.kafka_value(), key=event.kafka_key())
    finally:
        await producer.stop()


async def place_order(bootstrap: str, topic: str, order_id: str) -> None:
    """The order service publishes the order: the refund service pays only for orders it knows."""
    producer = idempotent_producer(bootstrap, "e2e-refund-crash-orders")
    await producer.start()
    try:
        await producer.send_and_wait(topic, order_placed(order_id=order_id).model_dump_json().encode(),
                                     key=order_id.encode())
    finally:
        await producer.stop()


def killed(proc: ServiceProcess, timeout: float = 60.0) -> int | None:
    deadline = time.monotonic() + timeout
    while proc.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc.process.poll()


async def test_a_refund_service_killed_after_the_provider_call_pays_exactly_once_after_restart(
        refund_env, simulator, kafka, tmp_path):
    order_id = f"O-{uuid4().hex[:8]}"
    crashing = start_refund({**refund_env, "REFUND_CRASH_AFTER_PROVIDER_CALL": "1"}, tmp_path,
                            "refund-crashing")
    await place_order(kafka.admin, refund_env["REFUND_ORDERS_TOPIC"], order_id)
    await publish(kafka.admin, refund_env["REFUND_DISPUTES_TOPIC"], *dispute_events(order_id))
    assert killed(crashing) == -signal.SIGKILL, crashing.log_tail()
    crashing.stop()

    def paid():
        return httpx.get(f"{simulator}/refunds", params={"order_reference": order_id}).json()["data"]

    assert len(paid()) == 1
    # the killed holder is known dead here: no lease to wait out before the start-up reconcile
    restarted = start_refund({**refund_env, "REFUND_RESERVATION_LEASE": "0"}, tmp_path,
                             "refund-restarted")
    try:
        await read_topic(kafka.admin, refund_env["REFUND_REFUNDS_TOPIC"], expect=1)
        # the redelivered Resolved is consumed too; give a second result time to appear
        records = await read_topic(kafka.admin, refund_env["REFUND_REFUNDS_TOPIC"], expect=2,
                                   timeout=3)
        log = restarted.log_tail(200)
    finally:
        restarted.stop()
    [issued] = [parse_refund_event(record.value) for record in records]
    assert isinstance(issued, RefundIssued) and [r["id"] for r in paid()] == [issued.provider_reference]
    assert '"refunds_reconciled"' in log and '"instructions": 1' in log, log


async def test_a_refund_service_killed_in_the_middle_of_a_concurrent_batch_pays_each_dispute_once(
        refund_env, simulator, kafka, tmp_path):
    """Twenty disputes handled at once (one lane each): the kill comes after the first provider
    answer, with other lanes anywhere (accepted, reserved, at the provider, publishing). No
    offset was committed past an unfinished record, so after the restart every dispute is paid,
    and once."""
    orders = [f"O-{uuid4().hex[:8]}" for _ in range(20)]
    for order_id in orders:
        await place_order(kafka.admin, refund_env["REFUND_ORDERS_TOPIC"], order_id)
    events = [event for order_id in orders for event in dispute_events(order_id)]
    await publish(kafka.admin, refund_env["REFUND_DISPUTES_TOPIC"], *events)
    crashing = start_refund({**refund_env, "REFUND_CRASH_AFTER_PROVIDER_CALL": "1"}, tmp_path,
                            "refund-crashing")
    assert killed(crashing) == -signal.SIGKILL, crashing.log_tail()
    crashing.stop()
    restarted = start_refund(refund_env, tmp_path, "refund-restarted")
    try:
        await read_topic(kafka.admin, refund_env["REFUND_REFUNDS_TOPIC"], expect=20, timeout=90)
        # a result published just before the kill may be published again (same event id)
        records = await read_topic(kafka.admin, refund_env["REFUND_REFUNDS_TOPIC"], expect=41, timeout=3)
    finally:
        restarted.stop()
    results = [parse_refund_event(record.value) for record in records]
    assert all(isinstance(r, RefundIssued) for r in results)
    event_ids = {r.dispute_id: set() for r in results}
    for r in results:
        event_ids[r.dispute_id].add(r.event_id)
    assert sorted(map(str, event_ids)) == sorted({str(e.dispute_id) for e in events})
    assert all(len(ids) == 1 for ids in event_ids.values())  # one result per dispute
    for order_id in orders:
        paid = httpx.get(f"{simulator}/refunds", params={"order_reference": order_id}).json()["data"]
        assert len(paid) == 1, (order_id, paid)
