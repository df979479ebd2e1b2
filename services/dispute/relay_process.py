"""The relay process wired from settings: topic, lock, wake-ups, producer, metrics port."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry

from services.common.database import create_schema_racing_others, sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.common.metrics import serve_metrics
from services.common.topics import UNLIMITED_RETENTION, ensure_platform_topics
from services.dispute.relay import Relay, RelayPosition
from services.dispute.relay_lag import measure_lag
from services.dispute.relay_lock import relay_lock_for
from services.dispute.relay_metrics import RelayMetrics
from services.dispute.relay_wakeup import wakeup_for


async def run_relay(settings, application, stopping: asyncio.Event) -> None:
    position = RelayPosition(sqlalchemy_engine(settings.database_url), settings.events_topic)
    create_schema_racing_others(position.create_tables)
    await ensure_platform_topics(settings.kafka_bootstrap, settings.topic_partitions)
    await ensure_topics(settings.kafka_bootstrap, {settings.events_topic: UNLIMITED_RETENTION},
                        settings.topic_partitions)
    metrics = RelayMetrics(CollectorRegistry(), lambda: measure_lag(
        application, position, datetime.now(timezone.utc)))
    serve_metrics(metrics.registry, settings.http_host, settings.relay_metrics_port)
    wakeup = wakeup_for(settings.database_url, application.recorder)
    producer = idempotent_producer(settings.kafka_bootstrap, client_id="dispute-relay")
    await producer.start()
    await wakeup.start()
    try:
        await Relay(application, producer, position, settings.relay_batch_size,
                    settings.relay_poll_interval, settings.events_topic,
                    lock=relay_lock_for(settings.database_url, settings.events_topic),
                    wakeup=wakeup, metrics=metrics).run(stopping)
    finally:
        await wakeup.stop()
        await producer.stop()
