"""Refund results onto `refunds.events`, acknowledged by every replica before we go on."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from contracts.refunds import RefundFailed, RefundIssued, refund_event_id
from services.common.kafka import KafkaConnection, idempotent_producer
from services.refund.lifecycle import ISSUED
from services.refund.store import StoredInstruction


def refund_event(stored: StoredInstruction) -> RefundIssued | RefundFailed:
    """The public fact for a settled instruction; the same instruction gives the same event."""
    common = {"refund_id": stored.refund_id, "dispute_id": stored.dispute_id,
              "amount": stored.amount, "currency": stored.currency,
              "occurred_at": stored.updated_at, "causation_id": stored.cause_event_id,
              "correlation_id": stored.correlation_id}
    if stored.status == ISSUED:
        return RefundIssued(event_id=refund_event_id(stored.refund_id, stored.attempt, "RefundIssued"),
                            provider_reference=stored.provider_reference, **common)
    return RefundFailed(event_id=refund_event_id(stored.refund_id, stored.attempt, "RefundFailed"),
                        reason=stored.reason or "UNKNOWN", retryable=bool(stored.retryable), **common)


class RefundEventsPublisher:
    def __init__(self, connection: KafkaConnection, topic: str, client_id: str = "refund"):
        self.connection, self.topic, self.client_id = connection, topic, client_id
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """aiokafka binds a producer to the running loop: made here, never at import or wiring."""
        self.producer = idempotent_producer(self.connection, self.client_id)
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def publish(self, event: RefundIssued | RefundFailed) -> None:
        if self.producer is None:
            raise RuntimeError("the refund events publisher is not started")
        await self.producer.send_and_wait(self.topic, event.kafka_value(), key=event.kafka_key(),
                                          headers=event.kafka_headers())
