"""Composition root of the refund service.

python -m services.refund.main [serve]          consume orders.events and disputes.events, pay
                                                refunds (HTTP :8002, Prometheus /metrics)
python -m services.refund.main retry <key>      an operator's retry of a FAILED (or stuck PENDING)
                                                refund instruction
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

if __name__ == "__main__":  # a process of its own: before structlog is imported
    from services.common.lean_process import leave_out_console_extras
    leave_out_console_extras()

from aiokafka.errors import KafkaError
import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from contracts.topics import dead_letter_topic
from services.common.background import BackgroundLoop
from services.common.body_limit import limit_bodies
from services.common.bulk_gc import serving_heap
from services.common.startup import BackgroundConnection
from services.common.database import create_schema_racing_others, sqlalchemy_engine
from services.common.health import (consumers_assigned, database_answers, install_health_routes,
                                    kafka_connected)
from services.common.kafka import ensure_topics, kafka_broker
from services.common.kafka_metrics import ConsumerLag, consumer_middlewares
from services.common.lanes import LanedBatches
from services.common.metrics import instrument_http
from services.common.http import serve_unless_unsafe
from services.common.local_mode import require_kafka_principal
from services.common.local_env import load_local_env
from services.common.logging import configure_logging
from services.common.stores import MissingStore, require_store
from services.common.problems import install_problem_handlers
from services.common.urls import masked_url
from services.refund.desk import RefundDesk
from services.refund.dispute_consumer import register_dispute_consumer
from services.refund.gateway import PaymentProvider, RetryPolicy, provider_client
from services.refund.provider_http import ProviderHttpClient
from services.refund.lifecycle import ISSUED
from services.refund.metrics import RefundMetrics
from services.refund.order_consumer import register_order_consumer
from services.refund.orders import PaidOrders
from services.refund.publishing import RefundEventsPublisher
from services.refund.settings import RefundSettings
from services.refund.store import RefundStore
from services.refund.trust import TrustGate, TrustMetrics

log = structlog.get_logger("refund")


def crash_now() -> None:
    """Fault injection (REFUND_CRASH_AFTER_PROVIDER_CALL): die as a power cut would."""
    log.warning("crashing_after_provider_call")
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class RefundParts:
    store: RefundStore
    orders: PaidOrders
    gate: TrustGate
    desk: RefundDesk
    publisher: RefundEventsPublisher
    http: ProviderHttpClient
    metrics: RefundMetrics
    dispute_lanes: LanedBatches | None = None  # set when the broker is built
    order_lanes: LanedBatches | None = None

    def lanes(self) -> list[LanedBatches]:
        return [lanes for lanes in (self.dispute_lanes, self.order_lanes) if lanes is not None]

    async def start(self) -> None:
        await self.publisher.start()

    async def stop(self) -> None:
        """Undo `start` (also after a failed Kafka connect, which is tried again): the provider
        client stays open, or no refund could be paid after a broker that was away at start-up
        came back (found by `make chaos`). The marks written behind first: a result not
        marked would be published again by the next reconcile (harmless, but needless)."""
        await self.desk.marks_written()
        await self.publisher.stop()

    async def close(self) -> None:
        """At shutdown only."""
        await self.http.aclose()


class PeriodicReconcile(BackgroundLoop):
    """Every `interval` seconds, drive again the instructions nobody is driving: PENDING ones a
    killed retry left behind, FAILED ones whose outcome is unknown. Started once the producer
    is connected (reconcile publishes); a failing round (the database away) waits for the next."""

    name = "refund-reconcile"

    def __init__(self, desk: RefundDesk, interval: float):
        super().__init__()
        self.desk, self.interval = desk, interval

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.desk.reconcile(older_than=self.interval)
            except Exception as error:
                log.warning("periodic_reconcile_failed", error=repr(error)[:300])


def build_parts(settings: RefundSettings) -> RefundParts:
    # No pre-ping (three checkouts a refund, a round trip each): a connection PostgreSQL
    # dropped fails its first statement and the store runs the call once more (store.py). As
    # many connections kept as records are handled at once: with fewer, every refund beyond
    # them opened (and closed) a connection of its own.
    store = RefundStore(sqlalchemy_engine(settings.database_url, pre_ping=False,
                                          pool_size=settings.concurrency))
    create_schema_racing_others(store.create_tables)
    publisher = RefundEventsPublisher(settings.kafka_connection(), settings.refunds_topic)
    http = provider_client(settings.provider_url, settings.provider_timeout, settings.concurrency)
    retry = RetryPolicy(settings.provider_attempts, settings.provider_backoff_initial,
                        settings.provider_backoff_max)
    metrics = RefundMetrics(CollectorRegistry())
    desk = RefundDesk(store, PaymentProvider(http, retry), publisher,
                      after_provider_call=crash_now if settings.crash_after_provider_call else lambda: None,
                      metrics=metrics, reservation_lease=settings.reservation_lease)
    gate = TrustGate(store, TrustMetrics(metrics.registry), settings.unknown_order_wait)
    return RefundParts(store, PaidOrders(store.engine), gate, desk, publisher, http, metrics)


async def ensure_refund_topics(settings: RefundSettings) -> None:
    # Only what it writes: the topics it reads are provisioned (and it may not create them).
    own = [settings.refunds_topic, dead_letter_topic(settings.disputes_topic, settings.consumer_group),
           dead_letter_topic(settings.orders_topic, settings.consumer_group)]
    await ensure_topics(settings.kafka_connection(), {name: {} for name in own}, settings.topic_partitions)


def build_broker(settings: RefundSettings, parts: RefundParts | None = None) -> KafkaBroker:
    """The service's Kafka consumers, unconnected (`make asyncapi` documents this broker); their
    metrics go to the parts' registry."""
    middlewares = consumer_middlewares(parts.metrics.registry, "refund", settings.consumer_group) \
        if parts else ()
    broker = kafka_broker(settings.kafka_connection(), client_id="refund", middlewares=middlewares)
    # without parts (make asyncapi) the handlers are registered, never run
    order_lanes = register_order_consumer(broker, parts.orders if parts else None,
                                          parts.gate.metrics if parts else None,
                                          settings.orders_topic, settings.consumer_group,
                                          max_record_bytes=settings.kafka_max_record_bytes)
    lanes = register_dispute_consumer(broker, parts.store if parts else None, parts.desk if parts else None,
                              parts.gate if parts else None, settings.disputes_topic,
                              settings.consumer_group, concurrency=settings.concurrency,
                              batch_max=settings.batch_max, max_record_bytes=settings.kafka_max_record_bytes)
    if parts:
        parts.dispute_lanes, parts.order_lanes = lanes, order_lanes
    return broker


def create_app(settings: RefundSettings, run_consumers: bool = True) -> FastAPI:
    parts = build_parts(settings)
    broker = build_broker(settings, parts)
    parts.metrics.watch_held(parts.store.held_by_status)
    lag = ConsumerLag(settings.kafka_connection(),
                      {settings.consumer_group: [settings.orders_topic, settings.disputes_topic]},
                      parts.metrics.registry, settings.consumer_lag_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Every store call runs in a thread (asyncio.to_thread): as many threads as records
        # handled at once, or the concurrent lanes queue for the default pool (cores + 4). The
        # loop shuts its default executor down when it closes.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(settings.concurrency, thread_name_prefix="refund-store"))
        if run_consumers:
            kafka.begin()
            lag.begin()
        log.info("refund_started", port=settings.http_port, provider=masked_url(settings.provider_url))
        with serving_heap(settings.gc_young_threshold):
            yield
        await lag.end()
        await kafka.end()
        await parts.close()

    reconciler = PeriodicReconcile(parts.desk, settings.reconcile_interval)

    async def connect() -> None:
        await ensure_refund_topics(settings)
        await parts.start()
        await parts.desk.reconcile()
        for lanes in parts.lanes():  # stopped by a failed connect before this one
            lanes.start()
        await broker.start()
        reconciler.begin()

    async def disconnect() -> None:
        await reconciler.end()
        for lanes in parts.lanes():  # what they finished is committed before the consumers stop
            await lanes.stop()
        await broker.stop()
        await parts.stop()

    kafka = BackgroundConnection("refund-consumer", connect, disconnect)
    app = FastAPI(title="Refund service", version="1", lifespan=lifespan)
    app.state.store, app.state.orders, app.state.metrics = parts.store, parts.orders, parts.gate.metrics
    install_problem_handlers(app)
    limit_bodies(app, settings.max_body_bytes)
    install_health_routes(app, {"database": database_answers(parts.store.engine),
                                "kafka": kafka_connected(kafka),
                                "consumers": consumers_assigned(kafka, broker)},
                          kafka, run_consumers)
    instrument_http(app, parts.metrics.registry)
    return app


async def retry_refund(settings: RefundSettings, idempotency_key: str) -> int:
    """An operator's command: refuses a store that does not exist (exit 2, one line)."""
    try:
        require_store(settings.database_url, "REFUND_DATABASE_URL", ["refund_instructions"])
    except MissingStore as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    parts = build_parts(settings)
    if parts.store.instruction(idempotency_key) is None:
        print(f"no refund instruction {idempotency_key!r}", file=sys.stderr)
        await parts.http.aclose()
        return 2
    try:
        await parts.start()
        stored = await parts.desk.retry(idempotency_key)
    except KafkaError as error:
        print(f"refused: Kafka at REFUND_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} as "
              f"REFUND_KAFKA_USERNAME={settings.kafka_username}: {error!r}"[:500], file=sys.stderr)
        return 2
    finally:
        await parts.stop()
    if stored is None:  # removed meanwhile (the retention purge)
        print(f"no refund instruction {idempotency_key!r}", file=sys.stderr)
        return 2
    print(json.dumps({"idempotency_key": idempotency_key, "status": stored.status,
                      "provider_reference": stored.provider_reference, "reason": stored.reason}))
    return 0 if stored.status == ISSUED else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.refund.main")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="consume disputes.events and pay refunds (default)")
    retry = commands.add_parser("retry", help="retry a FAILED or stuck PENDING refund instruction")
    retry.add_argument("idempotency_key")
    args = parser.parse_args(argv)
    if args.command == "retry":
        load_local_env()  # the operator's command only: `make run` gives the service its environment
    settings = RefundSettings()
    configure_logging(settings.log_level)
    if args.command == "retry":
        return asyncio.run(retry_refund(settings, args.idempotency_key))
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)

    def build():
        require_kafka_principal(settings)
        return create_app(settings)

    return serve_unless_unsafe(build, settings)


if __name__ == "__main__":
    sys.exit(main())
