"""A dispute stored by the walking skeleton, in the old shape of `Dispute.Opened`, still loads,
takes today's commands and is published as today's contract: PostgreSQL store, real relay, Kafka.
"""

from datetime import timedelta
from uuid import uuid4

import pytest

from contracts import disputes as public
from contracts.envelope import EventEnvelope
from services.common.database import sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.dispute.adapters.event_store import command_context
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import Relay, RelayPosition
from services.dispute.settings import DisputeSettings
from tests.support.kafka import read_topic
from tests.support.orders import NOW
from tests.support.skeleton_events import store_skeleton_dispute

pytestmark = pytest.mark.integration


@pytest.fixture
def app(pg_url, kafka):
    return build_application(DisputeSettings(database_url=pg_url, **kafka.settings()))


async def publish_all(app, pg_url, connection, topic: str) -> int:
    position = RelayPosition(sqlalchemy_engine(pg_url))
    position.create_tables()
    await ensure_topics(connection, {topic: {}}, partitions=1)  # provisioned, as in production
    producer = idempotent_producer(connection, "test-evolution-relay")
    await producer.start()
    try:
        return await Relay(app, producer, position, batch_size=50, topic=topic).publish_next_batch()
    finally:
        await producer.stop()


async def test_an_old_shape_dispute_loads_takes_commands_and_publishes(app, pg_url, kafka):
    with command_context(correlation_id="corr-skeleton"):
        dispute_id = store_skeleton_dispute(app, NOW).id
    dispute = app.repository.get(dispute_id)
    assert dispute.escalation_allowed_from == NOW + timedelta(days=3)
    dispute.escalate(note="no answer", actor=Actor(Role.BUYER, "B-1"), at=NOW + timedelta(days=4))
    app.save(dispute)
    assert app.repository.get(dispute_id).status == "UNDER_REVIEW"

    topic = f"disputes.events.{uuid4().hex[:8]}"
    assert await publish_all(app, pg_url, kafka.admin, topic) == 2
    records = await read_topic(kafka.admin, topic, expect=2)
    envelopes = [EventEnvelope.model_validate_json(r.value) for r in records]
    opened, escalated = [public.parse_payload(e) for e in envelopes]
    assert [e.event_type for e in envelopes] == ["DisputeOpened", "Escalated"]
    assert envelopes[0].correlation_id == "corr-skeleton"
    assert opened.escalation_allowed_from == NOW + timedelta(days=3)
    assert envelopes[0].payload["paid_amount"] == "100.00"
    assert escalated.trigger == "PARTY_REQUEST"
