"""The platform's topics and how they are made: every service ensures them at start-up, so
whichever starts first creates them with the configured partitions, never Kafka's defaults."""

from contracts.topics import DISPUTES_EVENTS, ORDERS_EVENTS, REFUNDS_EVENTS, dead_letter_topic
from services.common.kafka import ensure_topics

UNLIMITED_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1"}
CONSUMER_GROUPS = {DISPUTES_EVENTS: ("notification", "refund"), ORDERS_EVENTS: ("dispute", "refund"),
                   REFUNDS_EVENTS: ("dispute",)}


def platform_topics() -> dict[str, dict[str, str]]:
    topics = {DISPUTES_EVENTS: UNLIMITED_RETENTION, ORDERS_EVENTS: {}, REFUNDS_EVENTS: {}}
    for topic, groups in CONSUMER_GROUPS.items():
        topics.update({dead_letter_topic(topic, group): {} for group in groups})
    return topics


async def ensure_platform_topics(bootstrap: str, partitions: int) -> None:
    await ensure_topics(bootstrap, platform_topics(), partitions)
