"""Topic names, and the one rule for dead-letter topics."""

DISPUTES_EVENTS = "disputes.events"
ORDERS_EVENTS = "orders.events"
REFUNDS_EVENTS = "refunds.events"


def dead_letter_topic(topic: str, consumer_group: str) -> str:
    """`<topic>.dlq.<consumer-group>`: each group's poison messages kept apart."""
    return f"{topic}.dlq.{consumer_group}"
