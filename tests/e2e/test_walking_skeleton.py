"""All services as processes on real Kafka and PostgreSQL: one dispute from the HTTP call to
the seller's notification, through `disputes.events`."""

import asyncio
from datetime import datetime, timezone

import httpx
import pytest

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, ORDERS_EVENTS
from infra.ports import free_port
from services.common.kafka import idempotent_producer
from tests.support.kafka import eventually, read_topic
from tests.support.orders import order_delivered, order_placed
from tests.support.processes import ServiceProcess
from tests.support.tokens import SECRET, bearer

pytestmark = pytest.mark.e2e


@pytest.fixture
def system(postgres, kafka, tmp_path):
    ports = {"dispute": free_port(), "notification": free_port(), "refund": free_port()}
    common = {"KAFKA": kafka.bootstrap}
    env = {
        "DISPUTE_DATABASE_URL": postgres.create_database("e2e_dispute"),
        "DISPUTE_KAFKA_BOOTSTRAP": kafka.bootstrap, "DISPUTE_HTTP_PORT": str(ports["dispute"]),
        "DISPUTE_JWT_SECRET": SECRET, "DISPUTE_RELAY_POLL_INTERVAL": "0.1",
        "NOTIFICATION_DATABASE_URL": postgres.create_database("e2e_notification"),
        "NOTIFICATION_KAFKA_BOOTSTRAP": kafka.bootstrap, "NOTIFICATION_JWT_SECRET": SECRET,
        "NOTIFICATION_HTTP_PORT": str(ports["notification"]),
        "REFUND_DATABASE_URL": postgres.create_database("e2e_refund"),
        "REFUND_KAFKA_BOOTSTRAP": kafka.bootstrap, "REFUND_HTTP_PORT": str(ports["refund"]),
        **common,
    }
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    procs = [
        ServiceProcess("dispute", "services.dispute.main", ["serve"], env, tmp_path,
                       f"{url['dispute']}/health"),
        ServiceProcess("relay", "services.dispute.main", ["relay"], env, tmp_path),
        ServiceProcess("notification", "services.notification.main", [], env, tmp_path,
                       f"{url['notification']}/health"),
        ServiceProcess("refund", "services.refund.main", [], env, tmp_path, f"{url['refund']}/health"),
    ]
    try:
        for proc in procs:
            proc.wait_healthy()
        yield url
    finally:
        for proc in procs:
            proc.stop()
        for proc in procs:
            print(f"--- {proc.name} ---\n{proc.log_tail(15)}")


async def publish_order(bootstrap: str, order_id: str) -> None:
    producer = idempotent_producer(bootstrap, "e2e-orders")
    await producer.start()
    try:
        now = datetime.now(timezone.utc)
        for event in (order_placed(order_id=order_id, seller="S-E2E", now=now),
                      order_delivered(order_id=order_id, now=now)):
            await producer.send_and_wait(ORDERS_EVENTS, event.model_dump_json().encode(),
                                         key=order_id.encode())
    finally:
        await producer.stop()


async def test_a_dispute_opened_over_http_reaches_kafka_and_notifies_the_seller(system, kafka):
    await publish_order(kafka.bootstrap, "O-E2E")
    async with httpx.AsyncClient(timeout=10) as http:
        async def open_when_order_known():
            response = await http.post(f"{system['dispute']}/v1/disputes", headers=bearer("buyer", "B-1"),
                                       json={"order_id": "O-E2E", "item_id": "I-1", "reason": "DAMAGED",
                                             "request": "FULL_REFUND", "description": "cracked"})
            unknown = response.status_code == 422 and response.json()["code"] == "ORDER_NOT_FOUND"
            return None if unknown else response

        opened = await eventually(open_when_order_known, timeout=30)
        assert opened is not None and opened.status_code == 201, opened and opened.text
        dispute_id = opened.json()["id"]

        async def seller_notified():
            inbox = await http.get(f"{system['notification']}/v1/notifications",
                                   headers=bearer("seller", "S-E2E"))
            return [n for n in inbox.json()["items"] if n["dispute_id"] == dispute_id]

        notices = await eventually(seller_notified, timeout=30)
    assert len(notices) == 1 and "O-E2E" in notices[0]["subject"]
    records = await read_topic(kafka.bootstrap, DISPUTES_EVENTS, expect=1)
    envelopes = [EventEnvelope.model_validate_json(r.value) for r in records]
    assert [e.event_type for e in envelopes if str(e.dispute_id) == dispute_id] == ["DisputeOpened"]
