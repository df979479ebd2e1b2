"""What every Kafka consumer here does with a message it cannot use: dead-letter it, go on."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import structlog
from faststream.kafka import KafkaBroker

from services.common.log_context import HEADERS

log = structlog.get_logger("consumer")
T = TypeVar("T")
# The reason of a dead letter whose handler failed in a way no redelivery would mend (a bug, a
# record the service cannot act on); records refused on reading have theirs (records.py).
HANDLING_FAILED = "HANDLING_FAILED"
TRACE_HEADERS = frozenset(header for header, _ in HEADERS)


async def dead_letter(broker: KafkaBroker, topic: str, message, error: Exception,
                      reason: str | None = None) -> None:
    """Keep the poison message, with why it failed (and a stable `dlq-reason` code when the
    consumer refused it on purpose), and let the consumer move on. The record's correlation,
    event and dispute headers go along (log_context.HEADERS), so the dead letter can be traced.
    The broker's dead-letter counter (kafka_metrics.DeadLetterCounter) counts it from these."""
    raw = message.raw_message
    traced = {name: value for name, value in (getattr(message, "headers", None) or {}).items()
              if name in TRACE_HEADERS}
    headers = {**traced, "dlq-error": repr(error)[:1000], "dlq-error-type": type(error).__name__,
               "dlq-source-topic": raw.topic,
               "dlq-source-partition": str(raw.partition), "dlq-source-offset": str(raw.offset)}
    if reason is not None:
        headers["dlq-reason"] = reason
    await broker.publish(message.body, topic=topic, key=raw.key, headers=headers)
    log.warning("dead_lettered", topic=topic, source_offset=raw.offset, reason=reason,
                error=repr(error)[:300])


class RetryLater(Exception):
    """The record could not be handled now (a conflict, a store away): redeliver it."""


def transient_errors() -> tuple[type[Exception], ...]:
    from eventsourcing.persistence import InterfaceError as StoreInterfaceError
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    return (RetryLater, OperationalError, InterfaceError, PoolTimeout, StoreOperationalError,
            StoreInterfaceError, ConnectionError, TimeoutError)


async def handle_or_dead_letter(broker: KafkaBroker, topic: str, message, handle,
                                pause: float = 1.0) -> None:
    """Run `handle()`: a transient failure is left uncommitted for Kafka to redeliver (after a
    pause, so an outage is not a hot loop); any other failure will never succeed, so the record
    goes to the dead-letter topic with its error (reason HANDLING_FAILED) and the consumer goes on."""
    try:
        await handle()
    except transient_errors():
        await asyncio.sleep(pause)
        raise
    except Exception as error:
        log.error("handler_failed", error=repr(error)[:500], exc_info=error)
        await dead_letter(broker, topic, message, error, reason=HANDLING_FAILED)


def wired(part: "T | None", name: str) -> "T":
    """A consumer registered without its parts (so `make asyncapi` can document the broker)
    must never handle a record: say so instead of failing on None."""
    if part is None:
        raise RuntimeError(f"{name} is missing: this consumer was registered for documentation only")
    return part
