"""Consumes `disputes.events` (group `refund`); what it does not handle it ignores."""

from __future__ import annotations

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, dead_letter_topic
from services.common.consumers import dead_letter
from services.refund.policy import refund_for

GROUP = "refund"
log = structlog.get_logger("refund")


def register_dispute_consumer(broker: KafkaBroker, on_instruction) -> None:
    dlq = dead_letter_topic(DISPUTES_EVENTS, GROUP)

    @broker.subscriber(DISPUTES_EVENTS, group_id=GROUP, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_dispute_event(message: KafkaMessage) -> None:
        try:
            envelope = EventEnvelope.model_validate_json(message.body)
        except ValidationError as error:
            await dead_letter(broker, dlq, message, error)
            return
        instruction = refund_for(envelope.event_type, str(envelope.event_id),
                                 str(envelope.dispute_id), envelope.payload)
        if instruction is None:
            log.debug("ignored", event_type=envelope.event_type, event_id=str(envelope.event_id))
            return
        await on_instruction(instruction, envelope)
