"""Consumes `disputes.events` (group `notification`): one inbox entry set (and outbox e-mails)
per event id.

A record its contract refuses (services/common/records.py: too large, not a JSON object, an
(event_type, schema_version) the contracts do not know, an envelope or payload of the wrong
shape) goes to `<topic>.dlq.notification` with its reason at once, as does one whose event
type we have no words for and any other failure that would recur on every redelivery. A transient fault (the database away) is
retried here a few times with backoff; if it persists the handler pauses and raises, faststream
does not commit, and Kafka redelivers the same records: nothing is dead-lettered for being
unlucky, and an outage is not a hot redelivery loop.

Records come in batches (up to `batch_max`), handled in their order with three reads and one
transaction for the whole batch, then committed: one commit and flush per batch instead of per
event (one per event held the service to ~40 events/s on a durable PostgreSQL, behind a load of
200 commands/s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from contracts.disputes import upcast_payload
from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, dead_letter_topic
from services.common.consumers import HANDLING_FAILED, dead_letter, transient_errors, wired
from services.common.lanes import ReceivedRecord
from services.common.records import DEFAULT_MAX_RECORD_BYTES, Refused, read_dispute_event
from services.common.subscribed_topic import subscribed
from services.notification.metrics import NotificationMetrics
from services.notification.notices import (BUYER, OPERATORS, SELLER, MessageTemplate, Parties,
                                           Recipient, UnknownEvent, audience, is_known,
                                           notices_for, parties_from)
from services.notification.store import Batch, Effect, NotificationStore, Profile
from services.notification.template_files import load_templates

GROUP = "notification"
BATCH_WAIT_MS = 20
"""faststream's batch loop waits this long for more records (its default, 200 ms, would delay
a lone event's notices by as much)."""
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
    batch_max: int = 200
    """Records handled (and committed) together: NOTIFICATION_BATCH_MAX."""


def register_dispute_consumer(broker: KafkaBroker, store: NotificationStore | None,
                              config: NotifyConfig | None = None,
                              metrics: NotificationMetrics | None = None,
                              stored: Callable[[], None] | None = None) -> None:
    """`stored`: called once a batch has stored new events (the e-mail sender's wake-up)."""
    config, metrics = config or NotifyConfig(), metrics or NotificationMetrics()
    dlq = dead_letter_topic(config.topic, GROUP)

    # A batch is handled whole, then committed (faststream commits after the handler returns;
    # a raise rewinds every partition of the batch to its first record: nack). The handler is
    # given the batch's records undecoded (`_records`): faststream's own decoder parsed every
    # record's JSON only for it to be thrown away (each is read through its contract here), and
    # a `KafkaMessage` parameter was resolved in a worker thread, one thread hop a batch.
    @broker.subscriber(subscribed(config.topic), group_id=GROUP, auto_offset_reset="earliest", batch=True,
                       max_records=config.batch_max, batch_timeout_ms=BATCH_WAIT_MS,
                       ack_policy=AckPolicy.NACK_ON_ERROR, decoder=_records)
    async def on_dispute_event(records: Any) -> None:
        await consume_all(broker, dlq, wired(store, "the notification store"), config, records, metrics,
                          stored)


async def _records(message: KafkaMessage) -> list[ReceivedRecord]:
    """faststream's decoder for the batch: its records as they came, each shaped for
    `consume_all` and `dead_letter` (services/common/lanes.py)."""
    return [ReceivedRecord.of(raw) for raw in _raw_records(message.raw_message)]


def _raw_records(raw) -> tuple:
    return tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)


async def consume(broker: KafkaBroker, dlq: str, store: NotificationStore, config: NotifyConfig,
                  message, metrics: NotificationMetrics | None = None) -> None:
    """One record, as a batch of one (`consume_all`)."""
    await consume_all(broker, dlq, store, config, [message], metrics)


async def consume_all(broker: KafkaBroker, dlq: str, store: NotificationStore, config: NotifyConfig,
                      messages, metrics: NotificationMetrics | None = None,
                      stored: Callable[[], None] | None = None) -> None:
    """A batch of records: each read through its contract (else dead-lettered with the reason,
    services/common/records.py); the readable ones handled together (`handle_all`, one
    transaction); one that can never be handled dead-lettered (HANDLING_FAILED). A transient
    failure (the database away), once the retries are spent, is raised after a pause so that
    Kafka redelivers the whole batch; nothing is dead-lettered before the batch is stored, so a
    redelivery dead-letters nothing twice."""
    readable, refused = [], []
    for message in messages:
        try:
            readable.append((message, read_dispute_event(message.body, config.max_record_bytes).envelope))
        except Refused as refusal:
            refused.append((message, refusal))
    failures: list[tuple[int, Exception]] = []
    if readable:
        try:
            outcome = await _handled(config, store, [e for _, e in readable], metrics)
        except transient_errors():
            await asyncio.sleep(config.redelivery_pause)
            raise
        failures = outcome.failures
        if stored is not None and any(outcome.stored.values()):
            stored()
    for message, refused_because in refused:
        await dead_letter(broker, dlq, message, refused_because, reason=refused_because.reason)
    for index, error in failures:
        log.error("handler_failed", error=repr(error)[:500], exc_info=error)
        await dead_letter(broker, dlq, readable[index][0], error, reason=HANDLING_FAILED)


async def _handled(config: NotifyConfig, store: NotificationStore, envelopes: list[EventEnvelope],
                   metrics: NotificationMetrics | None) -> Handled:
    """`handle_all` on the batch; if the batch as a whole fails for anything but an outage (one
    event's data a read of the batch refuses, e.g. a NUL in a party id on PostgreSQL), event by
    event, so that only that event fails (and is dead-lettered) instead of the batch being
    redelivered for ever."""
    try:
        return await _with_retries(config, handle_all, store, envelopes, config, metrics)
    except transient_errors():
        raise
    except Exception as error:
        if len(envelopes) == 1:
            return Handled(failures=[(0, error)])
        log.warning("batch_failed_handling_one_by_one", events=len(envelopes), error=repr(error)[:300])
    outcome = Handled()
    for index, envelope in enumerate(envelopes):
        alone = await _handled(config, store, [envelope], metrics)
        outcome.stored.update({index: stored for stored in alone.stored.values()})
        outcome.failures += [(index, error) for _, error in alone.failures]
    return outcome


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
    """One event (True: stored; False: handled before); raises what `handle_all` would report
    as its failure."""
    outcome = handle_all(store, [envelope], config, metrics)
    for _, error in outcome.failures:
        raise error
    return outcome.stored[0]


@dataclass
class Handled:
    """Per event of the batch (by index): stored now (True) or handled before (False); and the
    events that can never be handled, with why."""

    stored: dict[int, bool] = field(default_factory=dict)
    failures: list[tuple[int, Exception]] = field(default_factory=list)


def handle_all(store: NotificationStore, envelopes: list[EventEnvelope],
               config: NotifyConfig | None = None,
               metrics: NotificationMetrics | None = None) -> Handled:
    """The events of a batch, in order, with three reads (handled ids, parties, profiles) and
    one write, all on one connection in one transaction (`store.batch`). A DisputeOpened
    teaches the events after it in the batch their parties, as the store would. Raises only
    transient errors (the whole batch is then tried again: whatever was stored is found
    handled)."""
    config = config or NotifyConfig()
    outcome = Handled()
    with store.batch() as batch:
        effects = _effects(store, envelopes, config, metrics, outcome)
        stored_together = _record_together(store, batch, effects)
    if stored_together:
        _recorded(outcome, [(index, effect, True) for index, effect in effects], metrics)
    else:
        _record_one_by_one(store, effects, outcome, metrics)
    outcome.failures.sort(key=lambda failure: failure[0])
    return outcome


def _effects(store: NotificationStore, envelopes: list[EventEnvelope], config: NotifyConfig,
             metrics: NotificationMetrics | None, outcome: Handled) -> list[tuple[int, Effect]]:
    """The effect of each event not handled before (by index); the others are told as
    duplicates or failures in `outcome`."""
    handled = store.handled_among(str(e.event_id) for e in envelopes)
    payloads: dict[int, dict] = {}
    for index, envelope in enumerate(envelopes):
        try:
            payloads[index] = _payload(envelope)
        except Exception as error:
            outcome.failures.append((index, error))
    parties = _parties_of(store, envelopes, payloads)
    profiles = store.profiles(list(dict.fromkeys(r for p in parties.values() for r in party_recipients(p))))
    effects: list[tuple[int, Effect]] = []
    seen = set(handled)
    for index, payload in payloads.items():
        envelope = envelopes[index]
        try:
            effect = _effect(envelope, payload, parties.get(index), profiles, config)
        except Exception as error:
            outcome.failures.append((index, error))
            continue
        if effect.event_id in seen:
            outcome.stored[index] = False
            _told(metrics, effect, stored=False, correlation_id=envelope.correlation_id)
            continue
        seen.add(effect.event_id)
        effects.append((index, effect))
    return effects


def _payload(envelope: EventEnvelope) -> dict:
    if not is_known(envelope.event_type):
        raise UnknownEvent(envelope.event_type)
    return upcast_payload(envelope.event_type, envelope.schema_version, envelope.payload)


def _parties_of(store: NotificationStore, envelopes: list[EventEnvelope],
                payloads: Mapping[int, dict]) -> dict[int, Parties | None]:
    """Each event's parties: its own (a DisputeOpened's), else the dispute's remembered ones,
    else those of the batch's first DisputeOpened of the dispute before it."""
    own = {index: parties_from(envelopes[index].event_type, payload) for index, payload in payloads.items()}
    remembered = store.parties_of(str(envelopes[i].dispute_id) for i, p in own.items() if p is None)
    learnt: dict[str, Parties] = {}
    parties: dict[int, Parties | None] = {}
    for index in payloads:
        dispute_id, opened = str(envelopes[index].dispute_id), own[index]
        parties[index] = opened or remembered.get(dispute_id) or learnt.get(dispute_id)
        if opened is not None:
            learnt.setdefault(dispute_id, opened)
    return parties


def _effect(envelope: EventEnvelope, payload: dict, parties: Parties | None,
            profiles: Mapping[Recipient, Profile], config: NotifyConfig) -> Effect:
    dispute_id = str(envelope.dispute_id)
    if parties is None and audience(envelope.event_type, payload, envelope.actor.role):
        # the event's ids on the line itself, as bound context variables would add them
        # (binding and unbinding three for every event of a batch cost more than this line)
        log.warning("dispute_parties_unknown", event_type=envelope.event_type, dispute_id=dispute_id,
                    event_id=str(envelope.event_id), correlation_id=envelope.correlation_id)
    notices = notices_for(envelope.event_type, payload, dispute_id, parties,
                          templates=config.templates, actor_role=envelope.actor.role,
                          time_zones={r: p.time_zone for r, p in profiles.items() if p.time_zone},
                          operators=config.operators)
    addresses = {n.to: _address(n.to, profiles.get(n.to), config) for n in notices}
    return Effect(event_id=str(envelope.event_id), event_type=envelope.event_type,
                  dispute_id=dispute_id, notices=notices,
                  parties=parties_from(envelope.event_type, payload),
                  addresses={r: a for r, a in addresses.items() if a})


def _record_together(store: NotificationStore, batch: Batch, effects: list[tuple[int, Effect]]) -> bool:
    """All in the batch's transaction (True once committed); False when that fails for anything
    but an outage (an event handled meanwhile by another consumer, or one event's effect the
    database refuses): the batch is then rolled back, and recorded one by one."""
    try:
        store.record_all([effect for _, effect in effects])
        batch.commit()
    except transient_errors():
        raise
    except Exception:
        return False
    return True


def _record_one_by_one(store: NotificationStore, effects: list[tuple[int, Effect]], outcome: Handled,
                       metrics: NotificationMetrics | None) -> None:
    """Each in a transaction of its own, so only the faulty event fails."""
    results = []
    for index, effect in effects:
        try:
            stored = store.record(event_id=effect.event_id, event_type=effect.event_type,
                                  dispute_id=effect.dispute_id, notices=effect.notices,
                                  parties=effect.parties, addresses=effect.addresses)
        except transient_errors():
            raise
        except Exception as error:
            outcome.failures.append((index, error))
            continue
        results.append((index, effect, stored))
    _recorded(outcome, results, metrics)


def _recorded(outcome: Handled, results: list[tuple[int, Effect, bool]],
              metrics: NotificationMetrics | None) -> None:
    for index, effect, stored in results:
        outcome.stored[index] = stored
        _told(metrics, effect, stored)


def _told(metrics: NotificationMetrics | None, effect: Effect, stored: bool, **context: str) -> None:
    # the ids as the line's own fields, as bound context variables would add them (binding and
    # unbinding two of them for every event cost as much as the log line)
    log.info("notified" if stored else "duplicate_skipped", event_type=effect.event_type,
             recipients=[n.recipient for n in effect.notices], dispute_id=effect.dispute_id,
             event_id=effect.event_id, **context)
    if metrics is not None:
        metrics.inbox(len(effect.notices), stored)


def party_recipients(parties: Parties | None) -> list[Recipient]:
    return [Recipient(BUYER, parties.buyer_id), Recipient(SELLER, parties.seller_id)] if parties else []


def _address(recipient: Recipient, profile, config: NotifyConfig) -> str | None:
    """A party's own address, the operators' configured one, else `<id>@<fallback domain>`."""
    own = config.operators_email if recipient.role == OPERATORS else profile and profile.email
    if own:
        return own
    domain = config.email_fallback_domain
    return f"{recipient.id}@{domain}" if domain else None
