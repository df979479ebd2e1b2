"""Every line a Kafka consumer logs while it handles a record names the record: the
`correlation_id` the HTTP request started (carried in the `correlation-id` header), and the
`event_id` and `dispute_id` of the event (CloudEvents' `ce_id` / `ce_subject` on
`disputes.events`, `event-id` / `dispute-id` on `refunds.events`), bound as structlog
contextvars for the whole handling, dead-letter lines included. Every broker has it
(services/common/kafka.kafka_broker)."""

from __future__ import annotations

from typing import Any, Mapping

from faststream import BaseMiddleware

from services.common.logging import bound_to_logs

# header -> log field; the first header found for a field wins
HEADERS = (("correlation-id", "correlation_id"), ("ce_id", "event_id"), ("event-id", "event_id"),
           ("ce_subject", "dispute_id"), ("dispute-id", "dispute_id"))
MAX_LENGTH = 128  # a header is anyone's input: never let one flood every line


def record_context(headers: Mapping[str, Any]) -> dict[str, str]:
    context: dict[str, str] = {}
    for header, field in HEADERS:
        value = headers.get(header)
        if field not in context and isinstance(value, str) and value:
            context[field] = value[:MAX_LENGTH]
    return context


class LogContext(BaseMiddleware):
    async def consume_scope(self, call_next, msg):
        with bound_to_logs(**record_context(msg.headers or {})):
            return await call_next(msg)
