"""The platform's topics, who writes each and which consumer groups read it.

This table is the one place Kafka access is decided from: provisioning (infra/kafka_access.py)
creates the topics with the configured partitions and derives every principal's ACLs from it,
and each service ensures only the topics it writes (never Kafka's defaults)."""

from contracts.topics import DISPUTES_EVENTS, ORDERS_EVENTS, REFUNDS_EVENTS, dead_letter_topic
from services.common.kafka import KafkaConnection, ensure_topics
from services.common.topic_replication import TopicReplication

UNLIMITED_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1"}
# Signed checkpoints of the audit chain heads: written by the dispute relay only (its producer,
# client id "dispute-relay"), read whole by `disputectl audit verify` without a consumer group
# (client id "disputectl-audit"). Never compacted: the highest checkpointed version must stay.
DISPUTES_AUDIT = "disputes.audit"
# topic -> the consumer groups that read it; a group is also the name of its service's
# principal, which alone may write the group's dead-letter topic.
CONSUMER_GROUPS = {DISPUTES_EVENTS: ("notification", "refund"), ORDERS_EVENTS: ("dispute", "refund"),
                   REFUNDS_EVENTS: ("dispute",)}
# topic -> the one principal that may write it (the upstream order service is "orders").
WRITERS = {DISPUTES_EVENTS: "dispute-relay", DISPUTES_AUDIT: "dispute-relay", ORDERS_EVENTS: "orders",
           REFUNDS_EVENTS: "refund"}


def platform_topics() -> dict[str, dict[str, str]]:
    topics = {DISPUTES_EVENTS: UNLIMITED_RETENTION, DISPUTES_AUDIT: UNLIMITED_RETENTION,
              ORDERS_EVENTS: {}, REFUNDS_EVENTS: {}}
    for topic, groups in CONSUMER_GROUPS.items():
        topics.update({dead_letter_topic(topic, group): {} for group in groups})
    return topics


def dead_letter_topics_of(group: str) -> list[str]:
    return [dead_letter_topic(topic, group) for topic, groups in CONSUMER_GROUPS.items()
            if group in groups]


async def ensure_platform_topics(connection: KafkaConnection, partitions: int,
                                 replication: TopicReplication | None = None) -> None:
    """Provisioning only: needs a principal that may create every topic."""
    await ensure_topics(connection, platform_topics(), partitions, replication)
