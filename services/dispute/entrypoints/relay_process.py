"""Composition root of the relay process (`python -m services.dispute.main relay`): the store,
topic, lock, wake-ups, producer and metrics port, wired from settings.

One relay per shard of the event store (DISPUTE_SHARD_URLS), each an asyncio task with its
own store, position, lock, wake-up and producer, all in its shard's database: a shard whose
database or events fail backs off and retries alone while the others go on publishing. Its
logs carry `shard`; with several shards the metrics carry a `shard` label.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timezone

import structlog
from prometheus_client import CollectorRegistry

from services.common.database import create_schema_racing_others, sqlalchemy_engine
from services.common.kafka import ensure_topics, idempotent_producer
from services.common.logging import bound_to_logs
from services.common.metrics import serve_metrics
from services.common.bulk_gc import serving_heap
from services.common.topics import UNLIMITED_RETENTION
from services.dispute.audit.checkpoint_topic import CheckpointPublisher
from services.dispute.bootstrap import build_application
from services.dispute.relay.relay import Relay, RelayBlocked, RelayPosition
from services.dispute.relay.lag import measure_lag
from services.dispute.relay.lock import relay_lock_for
from services.dispute.relay.metrics import RelayMetrics, ShardedRelayMetrics
from services.dispute.relay.wakeup import wakeup_for

log = structlog.get_logger("relay")
MAX_BACKOFF = 30.0
RELAY_YOUNG_THRESHOLD = 20_000
"""The relay's built heap frozen out of the cyclic collector's walks, its youngest generation
collected every this many allocations (services/common/bulk_gc.py: serving_heap): relay CPU per
event on real Kafka 109-112 -> 88-93 us (benchmarks.relay_kafka)."""


def run_until_signalled(settings) -> None:
    """Relay every shard until SIGINT or SIGTERM."""
    async def main():
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await run_relays(settings, stopping)

    asyncio.run(main())


async def run_relays(settings, stopping: asyncio.Event) -> None:
    """One relay task per shard, on one metrics port."""
    urls = settings.shard_database_urls()
    registry = CollectorRegistry()
    metrics_for = _metrics_factory(registry, len(urls))
    serve_metrics(registry, settings.http_host, settings.relay_metrics_port)
    await asyncio.gather(*(relay_shard(settings, shard, url, metrics_for, stopping)
                           for shard, url in enumerate(urls)))


def _metrics_factory(registry: CollectorRegistry, shards: int):
    """One shard: the unlabelled metrics an unsharded relay always had; several: labelled."""
    if shards == 1:
        return lambda shard, measure: RelayMetrics(registry, measure)
    return ShardedRelayMetrics(registry).for_shard


async def relay_shard(settings, shard: int, url: str, metrics_for, stopping: asyncio.Event) -> None:
    with bound_to_logs(shard=shard):
        built = await _built(settings, url, stopping)
        if built is None:
            return
        application, position = built
        metrics = metrics_for(shard, lambda: measure_lag(application, position, datetime.now(timezone.utc)))
        # the store application built: what exists lives as long as the process
        with serving_heap(RELAY_YOUNG_THRESHOLD):
            await _follow(settings, shard, url, application, position, metrics, stopping)


async def run_relay(settings, application, stopping: asyncio.Event) -> None:
    """The relay of one store application (the first shard's database), with its metrics."""
    url = settings.shard_database_urls()[0]
    position = _position(settings, url)
    metrics = RelayMetrics(CollectorRegistry(), lambda: measure_lag(
        application, position, datetime.now(timezone.utc)))
    serve_metrics(metrics.registry, settings.http_host, settings.relay_metrics_port)
    await _follow(settings, 0, url, application, position, metrics, stopping)


def _position(settings, url: str) -> RelayPosition:
    position = RelayPosition(sqlalchemy_engine(url), settings.events_topic)
    create_schema_racing_others(position.create_tables)
    return position


async def _built(settings, url: str, stopping: asyncio.Event):
    """(application, position) of the shard, retried with back-off while its database is away."""
    failures = 0
    while not stopping.is_set():
        try:
            application = await asyncio.to_thread(build_application, settings, url)
            return application, await asyncio.to_thread(_position, settings, url)
        except Exception as error:  # the shard's database is down or refuses us
            failures += 1
            await _back_off(error, failures, stopping)
    return None


async def _follow(settings, shard: int, url: str, application, position, metrics,
                  stopping: asyncio.Event) -> None:
    wakeup = wakeup_for(url, application.recorder)
    await wakeup.start()
    try:
        failures = 0
        while not stopping.is_set():
            try:
                await _relay_once(settings, shard, url, application, position, wakeup, metrics, stopping)
                failures = 0
            except Exception as error:  # the store, Kafka, or an unpublishable event
                failures += 1
                await _back_off(error, failures, stopping)
    finally:
        await wakeup.stop()


async def _relay_once(settings, shard, url, application, position, wakeup, metrics, stopping) -> None:
    """One life of the relay with a fresh producer: after a failure nothing queued in the old
    one can be sent behind events published afresh from the recorded position."""
    await ensure_topics(settings.kafka_connection(), {settings.events_topic: UNLIMITED_RETENTION,
                                                      settings.audit_topic: UNLIMITED_RETENTION},
                        settings.topic_partitions)
    producer = idempotent_producer(settings.kafka_connection(), client_id=_client_id(shard))
    await producer.start()
    try:
        await Relay(application, producer, position, settings.relay_batch_size,
                    settings.relay_poll_interval, settings.events_topic,
                    lock=relay_lock_for(url, settings.events_topic),
                    wakeup=wakeup, metrics=metrics,
                    checkpoints=CheckpointPublisher(producer, settings.audit_topic,
                                                    application.chain_keys)).run(stopping)
    finally:
        await producer.stop()


def _client_id(shard: int) -> str:
    return "dispute-relay" if shard == 0 else f"dispute-relay-{shard}"


async def _back_off(error: Exception, failures: int, stopping: asyncio.Event) -> None:
    delay = min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1))
    event = "relay_blocked" if isinstance(error, RelayBlocked) else "relay_failed"
    log.error(event, error=repr(error)[:500], retry_in_seconds=delay, failures=failures)
    try:
        await asyncio.wait_for(stopping.wait(), delay)
    except TimeoutError:
        pass
