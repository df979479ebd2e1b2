"""Consumes `disputes.events` (group `refund`): order terms from `DisputeOpened`, refund
instructions from `Resolved` / `AppealDecided`; what it does not handle it ignores.

The Kafka offset is committed only after the instruction is paid, recorded and its result
published (NACK_ON_ERROR); a message that cannot be read goes to the group's dead-letter topic.
"""

from __future__ import annotations

import asyncio

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, dead_letter_topic
from services.common.consumers import dead_letter
from services.refund.desk import RefundDesk
from services.refund.policy import (OrderTerms, PoisonPayload, RefundInstruction,
                                   order_terms_from, refund_for)
from services.refund.store import RefundStore

GROUP = "refund"
log = structlog.get_logger("refund")


def register_dispute_consumer(broker: KafkaBroker, store: RefundStore, desk: RefundDesk,
                              topic: str = DISPUTES_EVENTS, group: str = GROUP) -> None:
    dlq = dead_letter_topic(topic, group)

    @broker.subscriber(topic, group_id=group, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_dispute_event(message: KafkaMessage) -> None:
        try:
            envelope = EventEnvelope.model_validate_json(message.body)
            facts = refund_facts(envelope)
        except (ValidationError, PoisonPayload) as error:
            await dead_letter(broker, dlq, message, error)
            return
        await on_dispute_fact(store, desk, envelope, *facts)


def refund_facts(envelope: EventEnvelope) -> tuple[OrderTerms | None, RefundInstruction | None]:
    dispute_id, event_id = str(envelope.dispute_id), str(envelope.event_id)
    return (order_terms_from(envelope.event_type, dispute_id, envelope.payload),
            refund_for(envelope.event_type, event_id, dispute_id, envelope.payload))


async def on_dispute_fact(store: RefundStore, desk: RefundDesk, envelope: EventEnvelope,
                          terms: OrderTerms | None, instruction: RefundInstruction | None) -> None:
    if terms is None and instruction is None:
        return
    dispute_id, event_id = str(envelope.dispute_id), str(envelope.event_id)
    with structlog.contextvars.bound_contextvars(
            correlation_id=envelope.correlation_id, dispute_id=dispute_id, event_id=event_id):
        accepted = await asyncio.to_thread(store.accept, event_id=event_id, terms=terms,
                                           instruction=instruction,
                                           correlation_id=envelope.correlation_id)
        log.info("accepted" if accepted else "duplicate_skipped", event_type=envelope.event_type)
        if instruction is not None:
            await desk.pay(instruction.idempotency_key)
