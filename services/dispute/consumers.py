"""Kafka consumers of the dispute service: upstream order events feed the order book."""

from __future__ import annotations

import asyncio

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts.orders import parse_order_event
from contracts.topics import ORDERS_EVENTS, dead_letter_topic
from services.common.consumers import dead_letter
from services.dispute.orders import OrderBook

GROUP = "dispute"
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
