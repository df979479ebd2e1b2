"""Consumes `disputes.events` (group `notification`): one inbox entry set (and outbox e-mails)
per event id.

A record its contract refuses (services/common/records.py: too large, not a JSON object, an
(event_type, schema_version) the contracts do not know, an envelope or payload of the wrong
shape) goes to `<topic>.dlq.notification` with its reason at once, as does one whose event
type we have no words for and any other failure that would recur on every redelivery. A transient fault (the database away) is
retried here a few times with backoff; if it persists the handler pauses and raises, faststream
does not commit, and Kafka redelivers the same message: nothing is dead-lettered for being
unlucky, and an outage is not a hot redelivery loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from contracts.disputes import upcast_payload
from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, dead_letter_topic
from services.common.consumers import dead_letter, handle_or_dead_letter, transient_errors, wired
from services.common.records import DEFAULT_MAX_RECORD_BYTES, Refused, read_dispute_event
from services.notification.metrics import NotificationMetrics
from services.notification.notices import (BUYER, OPERATORS, SELLER, MessageTemplate, Parties,
                                           Recipient, UnknownEvent, audience, is_known,
                                           notices_for, parties_from)
from services.notification.store import NotificationStore
from services.notification.template_files import load_templates

GROUP = "notification"
log = structlog.get_logger("notification")


@dataclass(frozen=True)
class NotifyConfig:
    templates: Mapping[str, MessageTemplate] = field(default_factory=load_templates)
    operators: str = OPERATORS
    operators_email: str | None = None
    """The operators' shared inbox's address: from configuration only, never from the API."""
    email_fallback_domain: str = "example.invalid"
    """Recipients without an e-mail address get `<id>@<domain>`; empty: inbox only."""
    topic: str = DISPUTES_EVENTS
    attempts: int = 3
    backoff: float = 0.2
    redelivery_pause: float = 1.0
    """After the last attempt failed transiently: Kafka redelivers at once, so wait first."""
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


def register_dispute_consumer(broker: KafkaBroker, store: NotificationStore | None,
                              config: NotifyConfig | None = None,
                              metrics: NotificationMetrics | None = None) -> None:
    config, metrics = config or NotifyConfig(), metrics or NotificationMetrics()
    dlq = dead_letter_topic(config.topic, GROUP)

    @broker.subscriber(config.topic, group_id=GROUP, auto_offset_reset="earliest",
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_dispute_event(message: KafkaMessage) -> None:
        await consume(broker, dlq, wired(store, "the notification store"), config, message, metrics)


async def consume(broker: KafkaBroker, dlq: str, store: NotificationStore, config: NotifyConfig,
                  message, metrics: NotificationMetrics | None = None) -> None:
    """One record: read through its contract (else dead-lettered with the reason,
    services/common/records.py), handled, dead-lettered if it can never be, or (transient)
    raised after a pause so that Kafka redelivers it."""
    try:
        record = read_dispute_event(message.body, config.max_record_bytes)
    except Refused as refusal:
        await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)
        return

    async def handle_message() -> None:
        await _with_retries(config, handle, store, record.envelope, config, metrics)

    await handle_or_dead_letter(broker, dlq, message, handle_message,
                                pause=config.redelivery_pause)


async def _with_retries(config: NotifyConfig, function, *args):
    retrying = AsyncRetrying(stop=stop_after_attempt(config.attempts), reraise=True,
                             wait=wait_exponential(multiplier=config.backoff, max=5),
                             retry=retry_if_exception_type(transient_errors()))
    async for attempt in retrying:
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                log.warning("handler_retry", attempt=attempt.retry_state.attempt_number)
            return await asyncio.to_thread(function, *args)


def handle(store: NotificationStore, envelope: EventEnvelope,
           config: NotifyConfig | None = None, metrics: NotificationMetrics | None = None) -> bool:
    config = config or NotifyConfig()
    if not is_known(envelope.event_type):
        raise UnknownEvent(envelope.event_type)
    payload = upcast_payload(envelope.event_type, envelope.schema_version, envelope.payload)
    dispute_id = str(envelope.dispute_id)
    with structlog.contextvars.bound_contextvars(
            correlation_id=envelope.correlation_id, dispute_id=dispute_id,
            event_id=str(envelope.event_id)):
        opened = parties_from(envelope.event_type, payload)
        parties = opened or store.parties(dispute_id)
        if parties is None and audience(envelope.event_type, payload, envelope.actor.role):
            log.warning("dispute_parties_unknown", event_type=envelope.event_type)
        profiles = store.profiles(party_recipients(parties))
        notices = notices_for(envelope.event_type, payload, dispute_id, parties,
                              templates=config.templates, actor_role=envelope.actor.role,
                              time_zones={r: p.time_zone for r, p in profiles.items() if p.time_zone},
                              operators=config.operators)
        addresses = {n.to: _address(n.to, profiles.get(n.to), config) for n in notices}
        stored = store.record(event_id=str(envelope.event_id), event_type=envelope.event_type,
                              dispute_id=dispute_id, notices=notices, parties=opened,
                              addresses={r: a for r, a in addresses.items() if a})
        log.info("notified" if stored else "duplicate_skipped", event_type=envelope.event_type,
                 recipients=[n.recipient for n in notices])
        if metrics is not None:
            metrics.inbox(len(notices), stored)
        return stored


def party_recipients(parties: Parties | None) -> list[Recipient]:
    return [Recipient(BUYER, parties.buyer_id), Recipient(SELLER, parties.seller_id)] if parties else []


def _address(recipient: Recipient, profile, config: NotifyConfig) -> str | None:
    """A party's own address, the operators' configured one, else `<id>@<fallback domain>`."""
    own = config.operators_email if recipient.role == OPERATORS else profile and profile.email
    if own:
        return own
    domain = config.email_fallback_domain
    return f"{recipient.id}@{domain}" if domain else None
