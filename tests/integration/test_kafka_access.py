"""Kafka refuses whoever it must (issue 9.1): the broker the tests start runs SASL/SCRAM and the
StandardAuthorizer with the platform's ACLs, so these are the real refusals a forger meets."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (ClusterAuthorizationFailedError, GroupAuthorizationFailedError,
                             KafkaConnectionError, KafkaError, TopicAuthorizationFailedError)

from infra.kafka import KafkaServer
from infra.kafka_access import ADMIN, principals
from services.common.kafka import KafkaConnection, idempotent_producer
from services.common.topics import WRITERS, platform_topics

pytestmark = pytest.mark.integration
# A producer without WRITE on any topic is refused before its first send: Kafka will not even
# give it a producer id (IDEMPOTENT_WRITE is implied only by a WRITE somewhere).
REFUSED = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    """A broker of this module's own: the forged records written here must not reach the
    platform topics that other tests read."""
    server = KafkaServer(tmp_path_factory.mktemp("kafka-access")).start()
    yield server
    server.stop()


def allowed_writer(topic: str) -> str:
    """The one principal that may write `topic`: its writer, or the group of its DLQ."""
    return WRITERS.get(topic) or topic.rsplit(".dlq.", 1)[1]


async def write(connection: KafkaConnection, topic: str) -> None:
    producer = idempotent_producer(connection, f"access-{uuid4().hex[:6]}")
    await asyncio.wait_for(producer.start(), 15)
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"forged", key=b"k"), 15)
    finally:
        await producer.stop()


async def test_an_unauthenticated_client_cannot_even_connect(kafka):
    anonymous = KafkaConnection(kafka.bootstrap)  # PLAINTEXT, no credentials
    with pytest.raises(KafkaConnectionError):
        await write(anonymous, "disputes.events")


async def test_a_wrong_password_is_refused(kafka):
    with pytest.raises(KafkaError):
        await write(kafka.connection("refund").as_principal("refund", "guessed"), "refunds.events")


@pytest.mark.parametrize("principal", [p for p in principals() if p != ADMIN])
async def test_every_principal_writes_its_own_topics_and_no_other(kafka, principal):
    topics = sorted(platform_topics())
    own = [t for t in topics if allowed_writer(t) == principal]
    for topic in own:
        await write(kafka.connection(principal), topic)
    refused = []
    for topic in (t for t in topics if t not in own):
        try:
            await write(kafka.connection(principal), topic)
        except REFUSED:
            refused.append(topic)
    assert refused == [t for t in topics if t not in own]


def test_each_platform_topic_has_exactly_one_writer():
    writers = {topic: allowed_writer(topic) for topic in platform_topics()}
    assert writers["disputes.events"] == "dispute-relay"
    assert writers["refunds.events"] == "refund"
    assert writers["orders.events"] == "orders"
    assert writers["disputes.events.dlq.notification"] == "notification"
    assert set(writers.values()) <= set(principals())


async def read_one(connection: KafkaConnection, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(topic, **connection.client_options(), group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.getone(), 20)
    finally:
        await consumer.stop()


async def test_a_consumer_reads_only_its_topics_in_its_own_group(kafka):
    await write(kafka.connection("dispute-relay"), "disputes.events")
    await read_one(kafka.connection("notification"), "disputes.events", "notification")
    with pytest.raises(GroupAuthorizationFailedError):  # the refund service's group
        await read_one(kafka.connection("notification"), "disputes.events", "refund")
    with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
        await read_one(kafka.connection("notification"), "orders.events", "notification")


async def test_ops_reads_every_topic_but_can_never_commit_for_a_consumer_group(kafka):
    """READ on a group would let ops commit past the refund service's records (refunds never
    paid); it may only read topics without a group and describe groups."""
    await write(kafka.connection("dispute-relay"), "disputes.events")
    await read_one(kafka.connection("ops"), "disputes.events", None)
    with pytest.raises(GroupAuthorizationFailedError):
        await read_one(kafka.connection("ops"), "disputes.events", "refund")
