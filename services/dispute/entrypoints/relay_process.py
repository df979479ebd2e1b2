"""Composition root of the relay process (`python -m services.dispute.main relay`): the store,
topic, lock, wake-ups, producer and metrics port, wired from settings."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timezone

import structlog
from prometheus_client import CollectorRegistry

from services.common.database import create_schema_racing_others, sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.common.metrics import serve_metrics
from services.common.topics import UNLIMITED_RETENTION
from services.dispute.audit.checkpoint_topic import CheckpointPublisher
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import Relay, RelayBlocked, RelayPosition
from services.dispute.relay.lag import measure_lag
from services.dispute.relay.lock import relay_lock_for
from services.dispute.relay.metrics import RelayMetrics
from services.dispute.relay.wakeup import wakeup_for

log = structlog.get_logger("relay")
MAX_BACKOFF = 30.0


def run_until_signalled(settings) -> None:
    """Relay until SIGINT or SIGTERM."""
    async def main():
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await run_relay(settings, build_application(settings), stopping)

    asyncio.run(main())


async def run_relay(settings, application, stopping: asyncio.Event) -> None:
    position = RelayPosition(sqlalchemy_engine(settings.database_url), settings.events_topic)
    create_schema_racing_others(position.create_tables)
    metrics = RelayMetrics(CollectorRegistry(), lambda: measure_lag(
        application, position, datetime.now(timezone.utc)))
    serve_metrics(metrics.registry, settings.http_host, settings.relay_metrics_port)
    wakeup = wakeup_for(settings.database_url, application.recorder)
    await wakeup.start()
    try:
        failures = 0
        while not stopping.is_set():
            try:
                await _relay_once(settings, application, position, wakeup, metrics, stopping)
                failures = 0
            except Exception as error:  # the store, Kafka, or an unpublishable event
                failures += 1
                await _back_off(error, failures, stopping)
    finally:
        await wakeup.stop()


async def _relay_once(settings, application, position, wakeup, metrics, stopping) -> None:
    """One life of the relay with a fresh producer: after a failure nothing queued in the old
    one can be sent behind events published afresh from the recorded position."""
    await ensure_topics(settings.kafka_connection(), {settings.events_topic: UNLIMITED_RETENTION,
                                                      settings.audit_topic: UNLIMITED_RETENTION},
                        settings.topic_partitions)
    producer = idempotent_producer(settings.kafka_connection(), client_id="dispute-relay")
    await producer.start()
    try:
        await Relay(application, producer, position, settings.relay_batch_size,
                    settings.relay_poll_interval, settings.events_topic,
                    lock=relay_lock_for(settings.database_url, settings.events_topic),
                    wakeup=wakeup, metrics=metrics,
                    checkpoints=CheckpointPublisher(producer, settings.audit_topic,
                                                    application.chain_keys)).run(stopping)
    finally:
        await producer.stop()


async def _back_off(error: Exception, failures: int, stopping: asyncio.Event) -> None:
    delay = min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1))
    event = "relay_blocked" if isinstance(error, RelayBlocked) else "relay_failed"
    log.error(event, error=repr(error)[:500], retry_in_seconds=delay, failures=failures)
    try:
        await asyncio.wait_for(stopping.wait(), delay)
    except TimeoutError:
        pass
