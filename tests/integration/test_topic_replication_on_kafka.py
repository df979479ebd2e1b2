"""KAFKA_TOPIC_REPLICATION_FACTOR and KAFKA_TOPIC_MIN_INSYNC_REPLICAS reach the broker when set,
and nothing is sent when unset (the broker's defaults apply). The broker here is one node, so a
replication factor of two must be refused by it: that refusal is the proof the setting is sent."""

from uuid import uuid4

import pytest

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.common.kafka import admin_client, ensure_topics
from services.common.topics import DISPUTES_AUDIT, platform_topics
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration
INVALID_REPLICATION_FACTOR = 38
TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a value set on the topic itself


async def described(connection, topic: str) -> tuple[list[list[int]], dict[str, tuple[str, int]]]:
    """(replicas of each partition, {config: (value, source)}) once the topic's metadata is out."""
    admin = admin_client(connection, "it-describe")
    await admin.start()
    try:
        async def known():
            [description] = await admin.describe_topics([topic])
            return description["partitions"]

        partitions = await eventually(known, timeout=10)
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = response.to_object()["resources"][0]["config_entries"]
        return ([p["replicas"] for p in partitions],
                {e["config_names"]: (e["config_value"], e["config_source"]) for e in entries})
    finally:
        await admin.close()


@pytest.fixture
def no_replication_settings(monkeypatch):
    monkeypatch.delenv("KAFKA_TOPIC_REPLICATION_FACTOR", raising=False)
    monkeypatch.delenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", raising=False)
    return monkeypatch


async def test_unset_the_topic_takes_the_brokers_defaults(kafka, no_replication_settings):
    topic = f"it-replication-{uuid4().hex[:8]}"
    await ensure_topics(kafka.admin, {topic: {}}, partitions=2)
    replicas, configs = await described(kafka.admin, topic)
    assert replicas == [[1], [1]]  # default.replication.factor of the one broker
    assert configs["min.insync.replicas"][1] != TOPIC_CONFIG


async def test_min_insync_replicas_set_is_a_config_of_the_topic_beside_the_audit_retention(
        kafka, no_replication_settings):
    no_replication_settings.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "2")
    topic = f"it-audit-{uuid4().hex[:8]}"
    await ensure_topics(kafka.admin, {topic: platform_topics()[DISPUTES_AUDIT]}, partitions=1)
    _, configs = await described(kafka.admin, topic)
    assert configs["min.insync.replicas"] == ("2", TOPIC_CONFIG)
    assert (configs["retention.ms"][0], configs["retention.bytes"][0]) == ("-1", "-1")


async def test_a_replication_factor_set_is_sent_to_the_broker(kafka, no_replication_settings):
    no_replication_settings.setenv("KAFKA_TOPIC_REPLICATION_FACTOR", "2")
    with pytest.raises(RuntimeError, match=f"Kafka error {INVALID_REPLICATION_FACTOR}"):
        await ensure_topics(kafka.admin, {f"it-replicated-{uuid4().hex[:8]}": {}}, partitions=1)
