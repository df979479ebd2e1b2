"""Consumes `disputes.events` (group `refund`): order terms from `DisputeOpened` (and
`RefundedOutsideDispute`), refund instructions from `Resolved` / `AppealDecided`; what it does
not handle it ignores.

A resolution is recorded for payment only once the trust gate accepts it (services/refund/
trust.py); a DisputeOpened contradicting the first one of its dispute is refused too. Both are
dead-lettered with their reason (`dlq-reason` header) and counted.

Records are fetched continuously and handled concurrently, one lane per dispute (its records
in order, different disputes overlapping, at most `concurrency` at once; fetching pauses while
`batch_max` records are taken and not finished: services/common/lanes.py). A partition's
offset is committed only up to its first record not yet paid, recorded and published; a record
that must be handled again is retried in its dispute's lane, the records behind it waiting. A
record its contract refuses (services/common/records.py: too large, not a JSON
object, a known event type in a schema_version the contracts do not know, a payload of the
wrong shape) goes to the group's dead-letter topic with its reason. Anything else that fails (the database or the broker
away) is tried again, after a pause so an outage is not a hot loop.

Most records are none of this service's business (a message posted, an offer made): a record
whose value does not contain the name of a handled event type cannot be one (`cannot_be_handled`),
so it is committed in its turn without being parsed, nor dead-lettered when it is malformed
(the notification service, which reads every type, still dead-letters it). Only the value
decides: a header may say anything, and a record that names a handled type anywhere goes the
whole way.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import structlog
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from services.common.kafka_message import KafkaMessage
from contracts.envelope import EventEnvelope
from contracts.topics import DISPUTES_EVENTS, dead_letter_topic
from services.common.consumers import RetryLater, dead_letter, transient_errors, wired
from services.common.laned_subscriber import undecoded
from services.common.lanes import LanedBatches, ReceivedRecord
from services.common.log_context import record_context
from services.common.logging import bound_to_logs
from services.common.records import DEFAULT_MAX_RECORD_BYTES, Refused, read_dispute_event
from services.common.subscribed_topic import subscribed
from services.refund.desk import RefundDesk
from services.refund.policy import HANDLED_EVENTS, RefundFacts, RefundInstruction, distrust, refund_facts_from
from services.refund.store import Distrusted, RefundStore
from services.refund.terms import TermsContradicted
from services.refund.trust import TrustGate, Untrusted

GROUP = "refund"
REDELIVERY_PAUSE = 1.0
DEFAULT_CONCURRENCY = 32  # REFUND_CONCURRENCY
DEFAULT_BATCH_MAX = 200  # REFUND_BATCH_MAX
BATCH_WAIT_MS = 20
"""faststream's batch loop waits this long for records, and as long again after an empty
fetch: its default (200 ms) would add up to 200 ms to a record arriving on an idle consumer."""
log = structlog.get_logger("refund")
_MIGHT_BE_HANDLED = re.compile(b"|".join(re.escape(name.encode()) for name in sorted(HANDLED_EVENTS))
                               + rb"|\\u")
"""A handled type's name, or a JSON escape `\\u` (a name can be spelled with escapes, as
`"\\u0052esolved"`; the relay never writes them in an event type, so a record with one is
simply read the whole way)."""


def cannot_be_handled(raw: ConsumerRecord) -> bool:
    """True only for a record that cannot be a handled event: its value, read as JSON, can
    have no `event_type` naming one. False positives (a note quoting "Resolved") are read."""
    return _MIGHT_BE_HANDLED.search(raw.value or b"") is None


def register_dispute_consumer(broker: KafkaBroker, store: RefundStore | None, desk: RefundDesk | None,
                              gate: TrustGate | None, topic: str = DISPUTES_EVENTS, group: str = GROUP,
                              pause: float = REDELIVERY_PAUSE, concurrency: int = DEFAULT_CONCURRENCY,
                              batch_max: int = DEFAULT_BATCH_MAX,
                              max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> LanedBatches:
    """The consumer of dispute events; its lanes are stopped (`LanedBatches.stop`) before the
    broker, so what they finished is committed."""
    dlq = dead_letter_topic(topic, group)

    async def on_record(record: ReceivedRecord) -> None:
        with bound_to_logs(**record_context(record.headers)):
            await on_dispute_record(broker, dlq, store, desk, gate, record, pause, max_record_bytes)

    def redelivered(record: ReceivedRecord, error: BaseException) -> None:
        log.info("refund_record_redelivered", partition=record.raw_message.partition,
                 offset=record.raw_message.offset, error=repr(error)[:300])

    lanes = LanedBatches(on_record, concurrency, backlog=batch_max, on_failure=redelivered,
                         skip=cannot_be_handled)

    # MANUAL: the lanes commit, per partition, only the contiguous prefix of finished records
    # (services/common/lanes.py); the handler only queues a batch, so fetching goes on while
    # earlier records are still being paid.
    @broker.subscriber(subscribed(topic), group_id=group, auto_offset_reset="earliest", batch=True,
                       max_records=batch_max, batch_timeout_ms=BATCH_WAIT_MS,
                       ack_policy=AckPolicy.MANUAL, decoder=undecoded,
                       listener=lanes.rebalance_listener())
    async def on_dispute_event(message: KafkaMessage) -> None:
        await lanes.take(message.consumer, message.raw_message)

    return lanes


async def on_dispute_record(broker: KafkaBroker, dlq: str, store: RefundStore | None,
                            desk: RefundDesk | None, gate: TrustGate | None, message: ReceivedRecord,
                            pause: float = REDELIVERY_PAUSE,
                            max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
    """One record: dead-lettered when unreadable or untrusted, else handled (raises what must
    be redelivered)."""
    try:
        envelope, facts = read_dispute_record(message.body, max_record_bytes)
    except Refused as refusal:
        await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)
        return
    trust = wired(gate, "the trust gate")
    try:
        await handle_or_redeliver(wired(store, "the refund store"), wired(desk, "the refund desk"),
                                  trust, envelope, facts, pause)
    except Untrusted as refusal:
        trust.count(refusal)
        log.warning("untrusted_dispute_event", reason=refusal.reason, detail=str(refusal),
                    event_type=envelope.event_type, dispute_id=str(envelope.dispute_id))
        await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)


def read_dispute_record(body: bytes | None,
                        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> tuple[EventEnvelope, RefundFacts]:
    """What a dispute event teaches or asks, read through its contract at the latest schema
    version (raises Refused, for the dead-letter topic). Every event type the contracts know is
    read, handled or not: a record that breaks the contract is refused by every consumer. A
    type they do not know (one newer than this service) is skipped: the refund service acts on
    four known types only, so nothing it should do can hide in a new one."""
    record = read_dispute_event(body, max_record_bytes, skip_unknown_types=True)
    envelope = record.envelope
    if record.payload is None or envelope.event_type not in HANDLED_EVENTS:
        return envelope, RefundFacts()
    return envelope, refund_facts_from(str(envelope.dispute_id), str(envelope.event_id), record.payload)


async def handle_or_redeliver(store: RefundStore, desk: RefundDesk, gate: TrustGate,
                              envelope: EventEnvelope, facts: RefundFacts,
                              pause: float = REDELIVERY_PAUSE) -> None:
    """Past this point only a refusal (`Untrusted`) is the message's fault; any other failure
    is never dead-lettered: wait a moment and let Kafka redeliver."""
    try:
        await on_dispute_fact(store, desk, gate, envelope, facts)
    except Untrusted:
        raise
    except RetryLater:  # waiting for its order: the gate said so already
        await asyncio.sleep(pause)
        raise
    except Exception as error:
        log.warning("refund_handling_failed_redelivering", error=repr(error)[:300],
                    transient=isinstance(error, transient_errors()), pause_seconds=pause)
        await asyncio.sleep(pause)
        raise


async def on_dispute_fact(store: RefundStore, desk: RefundDesk, gate: TrustGate,
                          envelope: EventEnvelope, facts: RefundFacts) -> None:
    if not facts:
        return
    dispute_id, event_id = str(envelope.dispute_id), str(envelope.event_id)
    with bound_to_logs(
            correlation_id=envelope.correlation_id, dispute_id=dispute_id, event_id=event_id):
        if facts.instruction is not None:
            await pay_resolution(store, desk, gate, envelope, facts.instruction)
            return
        try:
            accepted = await asyncio.to_thread(
                store.accept, event_id=event_id, terms=facts.terms, instruction=None,
                outside_refund=facts.outside_refund, correlation_id=envelope.correlation_id)
        except TermsContradicted as conflict:
            raise Untrusted(conflict.reason, str(conflict)) from None
        log.info("accepted" if accepted else "duplicate_skipped", event_type=envelope.event_type)


async def pay_resolution(store: RefundStore, desk: RefundDesk, gate: TrustGate,
                         envelope: EventEnvelope, instruction: RefundInstruction) -> None:
    """A resolution, judged by the trust gate on the facts read in the transaction that records
    it with its reservation, then paid and announced (a redelivered one is driven from what is
    stored)."""
    event_id = str(envelope.event_id)
    try:
        accepted = await asyncio.to_thread(store.accept_resolution, event_id=event_id,
                                           instruction=instruction, correlation_id=envelope.correlation_id,
                                           vet=distrust)
    except Distrusted as refusal:
        await gate.refuse(event_id, instruction, refusal)
    log.info("accepted" if accepted else "duplicate_skipped", event_type=envelope.event_type)
    await desk.pay_accepted(instruction.idempotency_key, accepted)
