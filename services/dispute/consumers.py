"""Kafka consumers of the dispute service: upstream order events feed the order book; refund
results are recorded on their disputes."""

from __future__ import annotations

import asyncio

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts.orders import parse_order_event
from contracts.refunds import RefundFailed, RefundIssued, parse_refund_event
from contracts.topics import ORDERS_EVENTS, REFUNDS_EVENTS, dead_letter_topic
from services.common.consumers import dead_letter
from services.dispute.application import DisputeApplication
from services.dispute.context import command_context
from services.dispute.domain import Actor, DomainError, Role
from services.dispute.orders import OrderBook

GROUP = "dispute"
CONFLICT_RETRIES = 5
log = structlog.get_logger("orders")


def register_order_consumer(broker: KafkaBroker, order_book: OrderBook) -> None:
    dlq = dead_letter_topic(ORDERS_EVENTS, GROUP)

    @broker.subscriber(ORDERS_EVENTS, group_id=GROUP, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_order_event(message: KafkaMessage) -> None:
        try:
            event = parse_order_event(message.body)
        except ValidationError as error:
            await dead_letter(broker, dlq, message, error)
            return
        applied = await asyncio.to_thread(order_book.apply, event)
        log.info("order_event_applied" if applied else "order_event_duplicate",
                 order_id=event.order_id, event_type=event.event_type, event_id=str(event.event_id))


def register_refund_consumer(broker: KafkaBroker, disputes: DisputeApplication) -> None:
    """RefundIssued / RefundFailed from the refund service are recorded on the dispute, once
    per refund id (the aggregate ignores a refund id it has already recorded)."""
    dlq = dead_letter_topic(REFUNDS_EVENTS, GROUP)

    @broker.subscriber(REFUNDS_EVENTS, group_id=GROUP, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_refund_result(message: KafkaMessage) -> None:
        try:
            result = parse_refund_event(message.body)
        except ValidationError as error:
            await dead_letter(broker, dlq, message, error)
            return
        await asyncio.to_thread(record_refund_result, disputes, result)


def record_refund_result(disputes: DisputeApplication, result: RefundIssued | RefundFailed) -> None:
    with structlog.contextvars.bound_contextvars(
            dispute_id=str(result.dispute_id), event_id=str(result.event_id),
            correlation_id=result.correlation_id):
        for attempt in range(CONFLICT_RETRIES):
            try:
                with command_context(result.correlation_id or str(result.event_id),
                                     causation_id=str(result.event_id)):
                    disputes.execute(result.dispute_id, result.occurred_at, _recording(result))
                log.info("refund_result_recorded", event_type=result.event_type,
                         refund_id=result.refund_id)
                return
            except DomainError as error:
                if error.code != "CONCURRENCY_CONFLICT":
                    log.error("refund_result_refused", code=error.code, refund_id=result.refund_id,
                              detail=error.message)
                    return
        raise RuntimeError(f"refund result {result.event_id}: conflicts persisted; Kafka retries")


def _recording(result: RefundIssued | RefundFailed):
    actor = Actor(Role.SERVICE, "refund-service")
    if isinstance(result, RefundIssued):
        return lambda d: d.record_refund_issued(refund_id=result.refund_id, amount=result.amount,
                                                currency=result.currency, actor=actor,
                                                at=result.occurred_at)
    return lambda d: d.record_refund_failed(refund_id=result.refund_id, reason=result.reason,
                                            retryable=result.retryable, actor=actor,
                                            at=result.occurred_at)
