"""A consumer's broker counts what it handles (faststream's middleware, by topic and group)
and what it dead-letters (by source topic and reason), in the process's registry."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry

from services.common.consumers import dead_letter
from services.common.kafka import KafkaConnection, kafka_broker
from services.common.kafka_metrics import consumer_middlewares


def broker_with_metrics(registry: CollectorRegistry):
    broker = kafka_broker(KafkaConnection("127.0.0.1:9"), "metrics-test",
                          middlewares=consumer_middlewares(registry, "shop", "shop"))

    @broker.subscriber("orders", group_id="shop", ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_order(message: KafkaMessage) -> None:
        if message.body == b"poison":
            await dead_letter(broker, "orders.dlq.shop", message, ValueError("unreadable"))
        elif message.body == b"refused":
            await dead_letter(broker, "orders.dlq.shop", message, ValueError("no"), reason="ORDER_CONTRADICTED")

    @broker.subscriber("orders.dlq.shop", group_id="dlq-reader")
    async def on_dead_letter(message: KafkaMessage) -> None:
        pass

    return broker


async def test_handled_and_dead_lettered_records_are_counted():
    registry = CollectorRegistry()
    broker = broker_with_metrics(registry)
    async with TestKafkaBroker(broker) as running:
        for body in (b"fine", b"poison", b"refused", b"poison"):
            await running.publish(body, topic="orders")
    received = registry.get_sample_value("faststream_received_messages_total",
                                         {"app_name": "shop", "broker": "kafka", "handler": "orders", "group": "shop"})
    dead = {reason: registry.get_sample_value("shop_dead_lettered_records_total",
                                              {"topic": "orders", "reason": reason})
            for reason in ("ValueError", "ORDER_CONTRADICTED")}
    assert received == 4
    assert dead == {"ValueError": 2, "ORDER_CONTRADICTED": 1}
