"""The relay process outlives a broker that is not there yet: it backs off, then publishes."""

import asyncio

import pytest

from contracts.envelope import EventEnvelope
from infra.kafka import KafkaServer
from infra.ports import free_port
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.settings import DisputeSettings
from tests.support.kafka import eventually, read_topic
from tests.support.orders import NOW, order_placed
from tests.support.keys import DISPUTE_KEYS
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e


async def test_a_relay_started_before_its_broker_publishes_once_the_broker_is_up(postgres, tmp_path):
    url = postgres.create_database("relay_waits")
    app = build_application(DisputeSettings(database_url=url))
    app.open_dispute(order=OrderBook.facts_from(order_placed()), item_id="I-1",
                     actor=Actor(Role.BUYER, "B-1"), reason="DAMAGED", request="FULL_REFUND",
                     request_amount=None, description="", at=NOW)
    late = KafkaServer(tmp_path / "late-kafka", port=free_port())
    late.data_dir.mkdir(parents=True)
    late.prepare_credentials()  # the relay is given its own before the broker exists
    relay = ServiceProcess("relay", "services.dispute.main", ["relay"], {
        "DISPUTE_DATABASE_URL": url, **late.env("DISPUTE", "dispute-relay"), **DISPUTE_KEYS,
        "DISPUTE_RELAY_METRICS_PORT": "0"}, tmp_path)
    broker = None
    try:
        assert await eventually(lambda: "relay_failed" in relay.log_tail(200), timeout=30)
        assert relay.process.poll() is None  # still running, backing off
        broker = await asyncio.to_thread(late.start)
        assert await eventually(lambda: '"relay_published"' in relay.log_path.read_text(), timeout=90)
        records = await read_topic(broker.admin, "disputes.events", expect=1, timeout=30)
    finally:
        relay.stop()
        if broker:
            broker.stop()
    assert [EventEnvelope.model_validate_json(r.value).event_type for r in records] == ["DisputeOpened"]
