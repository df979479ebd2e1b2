"""Consumes `orders.events` (group `refund`): the refund service learns what each order paid
from the order service itself, never from a dispute event.

A record its contract refuses (services/common/records.py), and an OrderPlaced contradicting a known order (whose first facts are
kept), go to `orders.events.dlq.refund` with the reason; a failure of the store is redelivered.
"""

from __future__ import annotations

import asyncio

import structlog
from faststream.kafka import KafkaBroker
from contracts.topics import ORDERS_EVENTS, dead_letter_topic
from services.common.consumers import dead_letter, handle_or_dead_letter, wired
from services.common.laned_subscriber import laned_subscriber
from services.common.lanes import LanedBatches, ReceivedRecord
from services.common.records import DEFAULT_MAX_RECORD_BYTES, Refused, read_order_event
from services.refund.orders import OrderContradicted, PaidOrders
from services.refund.trust import TrustMetrics

GROUP = "refund"
log = structlog.get_logger("refund.orders")


def register_order_consumer(broker: KafkaBroker, orders: PaidOrders | None, metrics: TrustMetrics | None,
                            topic: str = ORDERS_EVENTS, group: str = GROUP, pause: float = 1.0,
                            max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> LanedBatches:
    """Records in lanes, one per order (its key), committed in batches
    (services/common/laned_subscriber.py): each order event's id is stored with what it
    taught, so one learned again after a crash changes nothing. The lanes are the caller's to
    stop before the broker."""
    dlq = dead_letter_topic(topic, group)

    async def on_order_record(record: ReceivedRecord) -> None:
        await take_order_record(broker, dlq, record, orders, metrics, pause, max_record_bytes)

    return laned_subscriber(broker, topic, group, on_order_record, title=f"{topic}:OnOrderEvent")


async def take_order_record(broker: KafkaBroker, dlq: str, message, orders: PaidOrders | None,
                            metrics: TrustMetrics | None, pause: float = 1.0,
                            max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
    """One `orders.events` record: read through its contract (else dead-lettered with the
    reason, services/common/records.py), then learned."""
    try:
        event = read_order_event(message.body, max_record_bytes)
    except Refused as refusal:
        await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)
        return

    async def learn() -> None:
        try:
            await asyncio.to_thread(learn_order_event, wired(orders, "the order facts"), event)
        except OrderContradicted as refusal:
            wired(metrics, "the trust metrics").contradicting_orders.inc()
            await dead_letter(broker, dlq, message, refusal, reason=refusal.reason)

    await handle_or_dead_letter(broker, dlq, message, learn, pause=pause)


def learn_order_event(orders: PaidOrders, event) -> bool:
    try:
        applied = orders.apply(event)
    except OrderContradicted as refusal:
        log.warning("order_contradicts_known_order", order_id=event.order_id,
                    event_id=str(event.event_id), changes=refusal.changes)
        raise
    log.info("order_event_learned" if applied else "order_event_skipped", order_id=event.order_id,
             event_type=event.event_type, event_id=str(event.event_id))
    return applied
