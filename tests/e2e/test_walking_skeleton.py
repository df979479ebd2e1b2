"""All services as processes on real Kafka and PostgreSQL: one dispute from the HTTP call to
the seller's notification, through `disputes.events`."""


import httpx
import pytest

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS
from tests.support.kafka import eventually, read_topic
from tests.support.tokens import bearer

pytestmark = pytest.mark.e2e


async def test_a_dispute_opened_over_http_reaches_kafka_and_notifies_the_seller(system, kafka):
    await system.publish_order("O-E2E", seller="S-E2E")
    async with httpx.AsyncClient(timeout=10) as http:
        async def open_when_order_known():
            response = await http.post(f"{system.url['dispute']}/v1/disputes", headers=bearer("buyer", "B-1"),
                                       json={"order_id": "O-E2E", "item_id": "I-1", "reason": "DAMAGED",
                                             "request": "FULL_REFUND", "description": "cracked"})
            unknown = response.status_code == 422 and response.json()["code"] == "ORDER_NOT_FOUND"
            return None if unknown else response

        opened = await eventually(open_when_order_known, timeout=30)
        assert opened is not None and opened.status_code == 201, opened and opened.text
        dispute_id = opened.json()["id"]

        async def seller_notified():
            inbox = await http.get(f"{system.url['notification']}/v1/notifications",
                                   headers=bearer("seller", "S-E2E"))
            return [n for n in inbox.json()["items"] if n["dispute_id"] == dispute_id]

        notices = await eventually(seller_notified, timeout=30)
    assert len(notices) == 1 and "O-E2E" in notices[0]["subject"]
    records = await read_topic(kafka.admin, DISPUTES_EVENTS, expect=1)
    envelopes = [EventEnvelope.model_validate_json(r.value) for r in records]
    assert [e.event_type for e in envelopes if str(e.dispute_id) == dispute_id] == ["DisputeOpened"]
