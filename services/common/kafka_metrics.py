"""What every Kafka-consuming process reports: consumption, dead letters and consumer lag.

- faststream's Prometheus middleware: `faststream_received_messages_total`,
  `faststream_received_processed_messages_duration_seconds` (handler latency),
  `faststream_received_processed_messages_exceptions_total`, `..._published_messages_total`,
  labelled `app_name` (the service), `handler` (the topic) and `group` (its consumer group);
- `<service>_dead_lettered_records_total{topic, reason}`: counted as the record reaches its
  dead-letter topic, from the headers `consumers.dead_letter` writes;
- `kafka_consumer_group_lag_records{group, topic, partition}`: end offset minus the group's
  committed offset, measured every few seconds with the service's own principal (it may
  describe its own group and topics).
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import BaseMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.common.background import BackgroundLoop
from services.common.kafka import KafkaConnection, admin_client

log = structlog.get_logger("metrics")
SOURCE_TOPIC, REASON, ERROR_TYPE = "dlq-source-topic", "dlq-reason", "dlq-error-type"


def consumer_middlewares(registry: CollectorRegistry, service: str, group: str) -> list[Any]:
    """The broker middlewares of a service's consumers: faststream's metrics and the
    dead-letter counter, in `registry`."""
    return [KafkaPrometheusMiddleware(registry=registry, app_name=service,
                                      custom_labels={"group": group}),
            DeadLetterCounter(registry, service)]


class DeadLetterCounter:
    """A broker middleware factory: counts each record published with dead-letter headers."""

    def __init__(self, registry: CollectorRegistry, service: str):
        self.counter = Counter(f"{service}_dead_lettered_records",
                               "Records moved to a dead-letter topic, by source topic and reason",
                               ["topic", "reason"], registry=registry)

    def __call__(self, msg: Any, /, *, context: Any) -> BaseMiddleware:
        return _CountDeadLetters(msg, context=context, counter=self.counter)


class _CountDeadLetters(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, counter: Counter):
        super().__init__(msg, context=context)
        self.counter = counter

    async def publish_scope(self, call_next, cmd):
        result = await call_next(cmd)
        headers = cmd.headers or {}
        if SOURCE_TOPIC in headers:
            self.counter.labels(topic=headers[SOURCE_TOPIC],
                                reason=headers.get(REASON) or headers.get(ERROR_TYPE, "unknown")).inc()
        return result


class ConsumerLag(BackgroundLoop):
    """Every `interval` seconds, the lag of `groups` (group -> topics) per partition. A failed
    measurement clears the figures (stale ones would hide a stalled consumer) and is logged."""

    name = "consumer-lag"

    def __init__(self, connection: KafkaConnection, groups: Mapping[str, Sequence[str]],
                 registry: CollectorRegistry, interval: float = 15.0):
        self.connection, self.groups, self.interval = connection, dict(groups), interval
        self.lag = Gauge("kafka_consumer_group_lag_records",
                         "Records on a partition not yet committed by the consumer group",
                         ["group", "topic", "partition"], registry=registry)
        super().__init__()

    async def _run(self) -> None:
        while True:
            try:
                self._show(await measure_lag(self.connection, self.groups))
            except Exception as error:  # Kafka away: no figures rather than old ones
                self.lag.clear()
                log.warning("consumer_lag_unavailable", error=repr(error)[:300])
            await asyncio.sleep(self.interval)

    def _show(self, lags: dict[tuple[str, str, int], int]) -> None:
        self.lag.clear()
        for (group, topic, partition), lag in lags.items():
            self.lag.labels(group=group, topic=topic, partition=str(partition)).set(lag)


async def measure_lag(connection: KafkaConnection,
                      groups: Mapping[str, Sequence[str]]) -> dict[tuple[str, str, int], int]:
    """(group, topic, partition) -> end offset minus committed offset (minus the first offset
    still kept, for a partition the group never committed on)."""
    admin = admin_client(connection, "consumer-lag")
    offsets = AIOKafkaConsumer(**connection.client_options(), client_id="consumer-lag",
                               group_id=None, enable_auto_commit=False)
    await admin.start()
    try:
        await offsets.start()
        lags: dict[tuple[str, str, int], int] = {}
        for group, topics in groups.items():
            partitions = await _partitions(admin, topics)
            if not partitions:
                continue
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            ends, firsts = await offsets.end_offsets(partitions), await offsets.beginning_offsets(partitions)
            for tp in partitions:
                done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else firsts[tp]
                lags[(group, tp.topic, tp.partition)] = max(0, ends[tp] - done)
        return lags
    finally:
        await offsets.stop()
        await admin.close()


async def _partitions(admin, topics: Sequence[str]) -> list[TopicPartition]:
    """The partitions of the topics that exist (a topic not yet provisioned has none)."""
    described = await admin.describe_topics(list(topics))
    return [TopicPartition(topic["topic"], partition["partition"]) for topic in described
            if not topic["error_code"] for partition in sorted(topic["partitions"], key=lambda p: p["partition"])]
