"""Kafka consumers of the dispute service: upstream order events feed the order book (and
refunds made outside disputes reach the open disputes of the order); refund results are
recorded on their disputes. A record its contract refuses (services/common/records.py), and an
OrderPlaced contradicting a known order, are dead-lettered with their reason (`dlq-reason`),
the order keeping its first facts."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Protocol
from uuid import UUID

import structlog
from faststream.kafka import KafkaBroker
from contracts.orders import OrderRefunded
from contracts.refunds import RefundFailed, RefundIssued
from contracts.topics import ORDERS_EVENTS, REFUNDS_EVENTS, dead_letter_topic
from services.common.consumers import (RetryLater, dead_letter, handle_or_dead_letter,
                                       transient_errors, wired)
from services.common.laned_subscriber import laned_subscriber
from services.common.logging import bound_to_logs
from services.common.lanes import LanedBatches, ReceivedRecord
from services.common.records import (DEFAULT_MAX_RECORD_BYTES, Refused, read_order_event,
                                     read_refund_event)
from services.dispute.application import use_cases
from services.dispute.application.batch import Submission
from services.dispute.application.commands import (Acting, Command, NoteRefundOutsideDispute,
                                                   RecordRefundFailed, RecordRefundIssued)
from services.dispute.application.shards import Disputes
from services.dispute.domain import Actor, DomainError, Role
from services.dispute.domain.orders import OrderFacts
from services.dispute.adapters.order_book import OrderBook, OrderContradicted

GROUP = "dispute"
ORDER_SERVICE = Actor(Role.SERVICE, "order-service")
REFUND_SERVICE = Actor(Role.SERVICE, "refund-service")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)

CONFLICT_RETRIES = 5
log = structlog.get_logger("orders")


def register_order_consumer(broker: KafkaBroker, order_book: OrderBook | None,
                            disputes: Disputes | None = None,
                            max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                            topic: str = ORDERS_EVENTS) -> LanedBatches:
    """Records in lanes, one per order (its key), committed in batches
    (services/common/laned_subscriber.py): each order event's id is stored with its effect,
    so one handled again after a crash changes nothing. The lanes are the caller's to stop
    before the broker."""
    dlq = dead_letter_topic(topic, GROUP)

    async def on_order_record(record: ReceivedRecord) -> None:
        await take_order_record(broker, dlq, record, order_book, disputes, max_record_bytes)

    # Two orders at once: each is applied in a thread of the process's default executor, which
    # the API's request path (token checks, reads) shares; it was one at a time before lanes.
    return laned_subscriber(broker, topic, GROUP, on_order_record, concurrency=ORDER_LANES_AT_ONCE,
                            title=f"{topic}:OnOrderEvent")


ORDER_LANES_AT_ONCE = 2


async def take_order_record(broker: KafkaBroker, dlq: str, message, order_book: OrderBook | None,
                            disputes: Disputes | None,
                            max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
    """One `orders.events` record: read through its contract (else dead-lettered with the
    reason, services/common/records.py), then applied to the order book."""
    try:
        event = read_order_event(message.body, max_record_bytes)
    except Refused as refusal:
        await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)
        return

    async def apply() -> None:
        try:
            await asyncio.to_thread(apply_order_event, wired(order_book, "the order book"), disputes, event)
        except OrderContradicted as refusal:
            log.warning("order_contradicts_known_order", order_id=event.order_id,
                        event_id=str(event.event_id), changes=refusal.changes)
            await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)

    await handle_or_dead_letter(broker, dlq, message, apply)


def apply_order_event(book: OrderBook, disputes: Disputes | None, event) -> None:
    applied = book.apply(event)
    log.info("order_event_applied" if applied else "order_event_duplicate",
             order_id=event.order_id, event_type=event.event_type, event_id=str(event.event_id))
    if isinstance(event, OrderRefunded) and disputes is not None:
        # also on a duplicate: a crash after the book and before the disputes is redelivered
        note_outside_refund(book, disputes, event)


def note_outside_refund(book: OrderBook, disputes: Disputes, event: OrderRefunded,
                        now: Callable[[], datetime] = utc_now) -> None:
    """Every dispute of the order that exists learns of the refund (once per order event)."""
    facts = book.facts(event.order_id)
    if facts is None:  # OrderPlaced not seen yet: no dispute can exist
        return
    command = NoteRefundOutsideDispute(order=facts, order_event_id=str(event.event_id))
    by = Acting(ORDER_SERVICE, event.refunded_at, str(event.event_id), str(event.event_id))
    for item_id in facts.items:
        for dispute_id in disputes.dispute_ids_for_item(event.order_id, item_id):
            run_on_dispute(disputes, dispute_id, command, by, quiet={"DISPUTE_NOT_FOUND"}, now=now)


def note_refunds_missed_at_opening(book: OrderBook, disputes: Disputes, opened_with: OrderFacts,
                                   dispute_id: UUID, now: Callable[[], datetime] = utc_now) -> None:
    """After an opening committed: an OrderRefunded booked after the opening read the order
    may have looked for the order's disputes before this one was stored, and found none. If
    the order's refunded total moved since, the new dispute learns of each of its refunds
    (once per order event, as the consumer would have told it)."""
    facts = book.facts(opened_with.order_id)
    if facts is None or facts.refunded_outside_disputes <= opened_with.refunded_outside_disputes:
        return
    for event_id in book.refund_event_ids(facts.order_id):
        command = NoteRefundOutsideDispute(order=facts, order_event_id=event_id)
        run_on_dispute(disputes, dispute_id, command, Acting(ORDER_SERVICE, now(), event_id, event_id),
                       quiet={"DISPUTE_NOT_FOUND"}, now=now)


def register_refund_consumer(broker: KafkaBroker, disputes: Disputes | None,
                             max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                             topic: str = REFUNDS_EVENTS, writer: Writer | None = None) -> LanedBatches:
    """RefundIssued / RefundFailed from the refund service are recorded on the dispute, once
    per refund id (the aggregate ignores a refund id it has already recorded, so one handled
    again after a crash changes nothing): in lanes, one per dispute (the key), committed in
    batches (services/common/laned_subscriber.py; it was one commit a refund). The lanes are
    the caller's to stop before the broker. With the process's command `writer`, each result
    is written by it, in the transaction of whatever commands it batches with (the API's
    HTTP commands, the other lanes' results): it was a transaction, a table lock and a flush of
    its own a refund."""
    dlq = dead_letter_topic(topic, GROUP)

    async def on_refund_record(record: ReceivedRecord) -> None:
        await take_refund_record(broker, dlq, record, disputes, max_record_bytes, writer)

    return laned_subscriber(broker, topic, GROUP, on_refund_record, title=f"{topic}:OnRefundResult")


async def take_refund_record(broker: KafkaBroker, dlq: str, message, disputes: Disputes | None,
                             max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                             writer: Writer | None = None) -> None:
    """One `refunds.events` record: read through its contract (else dead-lettered with the
    reason), then recorded on its dispute (by the command `writer` when given)."""
    try:
        result = read_refund_event(message.body, max_record_bytes)
    except Refused as refusal:
        await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)
        return
    if writer is not None:
        await handle_or_dead_letter(broker, dlq, message,
                                    partial(write_or_record_alone, writer, disputes, result))
        return
    record = partial(asyncio.to_thread, record_refund_result, wired(disputes, "the disputes"), result)
    await handle_or_dead_letter(broker, dlq, message, record)


class Writer(Protocol):
    """The command writer (application/shard_writers.py): group commit."""

    async def submit(self, submission: Submission) -> Any: ...


async def write_refund_result(writer: Writer, result: RefundIssued | RefundFailed,
                              now: Callable[[], datetime] = utc_now) -> None:
    """`record_refund_result` through the command writer: the same command, actor and clock
    (deadlines at this service's own time); a refusal is logged for operators, a conflict the
    writer could not settle is left to the lane (tried again), as a store failure is."""
    by = _refund_service_acting(result)
    submission: Submission = Submission(result.dispute_id, _recording(result), by, _nothing,
                                        deadlines_at=now())
    with bound_to_logs(dispute_id=str(result.dispute_id), correlation_id=by.correlation_id):
        try:
            await writer.submit(submission)
        except DomainError as error:
            if error.code == "CONCURRENCY_CONFLICT":
                raise RetryLater(f"{by.causation_id}: conflicts persisted on {result.dispute_id}") from None
            log.error("kafka_command_refused", code=error.code, causation_id=by.causation_id,
                      detail=error.message)
            return
        log.info("refund_result_recorded", event_type=result.event_type, refund_id=result.refund_id,
                 dispute_id=str(result.dispute_id))


async def write_or_record_alone(writer: Writer, disputes: Disputes | None,
                                result: RefundIssued | RefundFailed) -> None:
    """Through the writer; when the batch it shared failed for good (not a transient fault,
    retried in the lane), recorded alone as it was without the writer: another command's
    failure must not send a refund result to the dead letters, and the result's own failure
    still does (raised from its own transaction)."""
    try:
        await write_refund_result(writer, result)
    except transient_errors():
        raise
    except Exception as error:
        log.warning("refund_result_batch_failed", dispute_id=str(result.dispute_id),
                    refund_id=result.refund_id, error=repr(error)[:300])
        await asyncio.to_thread(record_refund_result, wired(disputes, "the disputes"), result)


def _nothing(dispute) -> None:
    return None


def _refund_service_acting(result: RefundIssued | RefundFailed) -> Acting:
    return Acting(REFUND_SERVICE, result.occurred_at, result.correlation_id or str(result.event_id),
                  str(result.event_id))


def record_refund_result(disputes: Disputes, result: RefundIssued | RefundFailed,
                         now: Callable[[], datetime] = utc_now) -> None:
    by = _refund_service_acting(result)
    refused = run_on_dispute(disputes, result.dispute_id, _recording(result), by, now=now)
    if refused is None:
        log.info("refund_result_recorded", event_type=result.event_type, refund_id=result.refund_id,
                 dispute_id=str(result.dispute_id))


def run_on_dispute(disputes: Disputes, dispute_id: UUID, command: Command, by: Acting, *,
                   quiet: frozenset[str] | set[str] = frozenset(),
                   now: Callable[[], datetime] = utc_now) -> str | None:
    """Run a command a Kafka message asks for; None when done, else the refusal's code.

    Deadlines are applied at this service's own clock: a message stamped by another service's
    (possibly skewed) clock must not fire a timer early. The command keeps the message's time.

    Conflicts with concurrent commands are retried, then left to Kafka's redelivery; a refusal
    (the message will never succeed) is logged for operators instead of looping.
    """
    with bound_to_logs(dispute_id=str(dispute_id), correlation_id=by.correlation_id):
        for _ in range(CONFLICT_RETRIES):
            try:
                use_cases.run(disputes, dispute_id, command, by, deadlines_at=now())
                return None
            except DomainError as error:
                if error.code == "CONCURRENCY_CONFLICT":
                    continue
                if error.code not in quiet:
                    log.error("kafka_command_refused", code=error.code,
                              causation_id=by.causation_id, detail=error.message)
                return error.code
    raise RetryLater(f"{by.causation_id}: conflicts persisted on {dispute_id}; Kafka redelivers")


def _recording(result: RefundIssued | RefundFailed) -> RecordRefundIssued | RecordRefundFailed:
    if isinstance(result, RefundIssued):
        return RecordRefundIssued(refund_id=result.refund_id, amount=result.amount,
                                  currency=result.currency)
    return RecordRefundFailed(refund_id=result.refund_id, reason=result.reason,
                              retryable=result.retryable)
