"""Consumes `disputes.events` (group `notification`): one inbox entry set per event id."""

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
from services.notification.messages import notices_for, parties_from
from services.notification.store import NotificationStore

GROUP = "notification"
log = structlog.get_logger("notification")


def register_dispute_consumer(broker: KafkaBroker, store: NotificationStore) -> None:
    dlq = dead_letter_topic(DISPUTES_EVENTS, GROUP)

    @broker.subscriber(DISPUTES_EVENTS, group_id=GROUP, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_dispute_event(message: KafkaMessage) -> None:
        try:
            envelope = EventEnvelope.model_validate_json(message.body)
        except ValidationError as error:
            await dead_letter(broker, dlq, message, error)
            return
        await asyncio.to_thread(handle, store, envelope)


def handle(store: NotificationStore, envelope: EventEnvelope) -> bool:
    dispute_id = str(envelope.dispute_id)
    with structlog.contextvars.bound_contextvars(
            correlation_id=envelope.correlation_id, dispute_id=dispute_id,
            event_id=str(envelope.event_id)):
        parties = parties_from(envelope.event_type, envelope.payload)
        notices = notices_for(envelope.event_type, envelope.payload, dispute_id,
                              parties or store.parties(dispute_id))
        stored = store.record(event_id=str(envelope.event_id), event_type=envelope.event_type,
                              dispute_id=dispute_id, notices=notices, parties=parties)
        log.info("notified" if stored else "duplicate_skipped", event_type=envelope.event_type,
                 recipients=[n.recipient for n in notices])
        return stored
