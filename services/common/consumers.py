"""What every Kafka consumer here does with a message it cannot use: dead-letter it, go on."""

from __future__ import annotations

import structlog
from faststream.kafka import KafkaBroker

log = structlog.get_logger("consumer")


async def dead_letter(broker: KafkaBroker, topic: str, message, error: Exception) -> None:
    """Keep the poison message, with why it failed, and let the consumer move on."""
    raw = message.raw_message
    headers = {"dlq-error": repr(error)[:1000], "dlq-source-topic": raw.topic,
               "dlq-source-partition": str(raw.partition), "dlq-source-offset": str(raw.offset)}
    await broker.publish(message.body, topic=topic, key=raw.key, headers=headers)
    log.warning("dead_lettered", topic=topic, source_offset=raw.offset, error=repr(error)[:300])
