"""Composition root of the API process (`python -m services.dispute.main serve`): the HTTP
routes, the Kafka consumers (orders, refund results) and the workers (projections, deadlines,
idempotency purge), over parts built once from settings (bootstrap.ApiParts)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Callable

import structlog
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from services.common.bulk_gc import serving_heap
from services.common.health import (consumers_assigned, database_answers, install_health_routes,
                                    kafka_connected)
from services.common.kafka import ensure_topics, kafka_broker
from services.common.kafka_metrics import ConsumerLag, consumer_middlewares
from services.common.metrics import instrument_http
from services.common.openapi import install_openapi, operation_id
from services.common.periodic import every
from services.common.problems import install_problem_handlers
from services.common.startup import BackgroundConnection
from services.common.token_settings import build_token_verifier
from services.common.topics import CONSUMER_GROUPS, dead_letter_topics_of
from services.common.lanes import LanedBatches
from services.common.urls import masked_url
from services.dispute.adapters.order_book import OrderBook
from services.dispute.application.deadline_worker import DeadlineWorker
from services.dispute.application.metrics import COMMANDS, DeadlineMetrics
from services.dispute.application.shard_writers import ShardWriters
from services.dispute.application.shards import Disputes
from services.dispute.bootstrap import ApiParts
from services.dispute.entrypoints.http import (center, ops, queries, routes, sellers,
                                              timeline_routes)
from services.dispute.entrypoints.http.command_paths import install_command_paths
from services.dispute.entrypoints.http.command_route import CommandsInFlight
from services.dispute.entrypoints.http.limits import install_limits
from services.dispute.entrypoints.kafka_subscribers import (GROUP, register_order_consumer,
                                                            register_refund_consumer)
from services.dispute.projections.follower import ProjectionFollower
from services.dispute.settings import DisputeSettings

log = structlog.get_logger("dispute")
TAGS = [{"name": "disputes", "description": "opening and reading disputes and their items"},
        {"name": "negotiation", "description": "offers, the claim, escalation, withdrawal"},
        {"name": "fulfilment", "description": "returns and replacements"},
        {"name": "review", "description": "the platform's evidence requests, decisions, appeals"},
        {"name": "conversation", "description": "messages and feedback"},
        {"name": "evidence", "description": "evidence files"},
        {"name": "operations", "description": "the platform's plumbing, for operators"},
        {"name": "sellers", "description": "every seller's public dispute record"},
        {"name": "buyers", "description": "the buyer's own orders, as the pages show them"},
        {"name": "orders", "description": "an order as the dispute service knows it"}]
# FastAPI's native OpenTelemetry: nothing here configures a provider, and its check for one
# (the environment, on every request) was ~2% of the API's CPU per command.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
ROUTERS = (routes.router, ops.router, queries.router, timeline_routes.router, sellers.router,
           center.router, center.pages)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def build_broker(settings: DisputeSettings, order_book: OrderBook | None = None,
                 disputes: Disputes | None = None,
                 registry: CollectorRegistry | None = None,
                 lanes: list[LanedBatches] | None = None, writer: ShardWriters | None = None) -> KafkaBroker:
    """The API's Kafka consumers, unconnected (`make asyncapi` documents this broker); their
    metrics go to `registry` when given, the lanes their records run in to `lanes` (stopped
    before the broker, so what they finished is committed); refund results are written by
    `writer` when given (batched with the HTTP commands)."""
    middlewares = consumer_middlewares(registry, "dispute", GROUP) if registry else ()
    broker = kafka_broker(settings.kafka_connection(), client_id="dispute-api", middlewares=middlewares)
    consumers = [register_order_consumer(broker, order_book, disputes, settings.kafka_max_record_bytes),
                 register_refund_consumer(broker, disputes, settings.kafka_max_record_bytes,
                                          writer=writer)]
    if lanes is not None:
        lanes.extend(consumers)
    return broker


def create_app(settings: DisputeSettings, clock: Callable[[], datetime] = utc_now,
               run_consumers: bool = True, run_workers: bool | None = None) -> FastAPI:
    """run_consumers: Kafka consumers; run_workers: projection and deadline worker
    (default: settings.run_workers). Raises UnsafeSettings before touching anything when the
    token settings are not fit outside local mode."""
    tokens = build_token_verifier(settings)
    parts = ApiParts.build(settings)
    registry = process_registry()
    lanes: list[LanedBatches] = []
    broker = build_broker(settings, parts.orders, parts.disputes, registry, lanes, parts.writer)
    kafka = BackgroundConnection("dispute-consumers", lambda: _connect(settings, broker, lanes),
                                 lambda: _disconnect(broker, lanes))
    workers = settings.run_workers if run_workers is None else run_workers
    lag = ConsumerLag(settings.kafka_connection(), groups_of(GROUP), registry,
                      settings.consumer_lag_interval)
    app = FastAPI(title="Dispute service", version="1", openapi_tags=TAGS,
                  generate_unique_id_function=operation_id, telemetry=NO_TELEMETRY,
                  lifespan=_lifespan(settings, parts, kafka, run_consumers, workers, lag))
    install_openapi(app)
    _hold(app, parts, settings=settings, clock=clock, tokens=tokens, broker=broker,
          deadline_metrics=DeadlineMetrics(registry) if workers else None,
          commands_in_flight=CommandsInFlight(settings.max_commands_in_flight))
    install_problem_handlers(app)
    install_limits(app)
    for router in ROUTERS:
        app.include_router(router)
    install_health_routes(app, {"database": database_answers(parts.engine),
                                **_shard_checks(parts),
                                "kafka": kafka_connected(kafka),
                                "consumers": consumers_assigned(kafka, broker)},
                          kafka, run_consumers)
    instrument_http(app, registry)
    install_command_paths(app)
    return app


def _shard_checks(parts: ApiParts) -> dict:
    """With several shards, each shard's database must answer too (`shard_<n>`): a command on
    a dispute of a shard that is away would fail."""
    if len(parts.relay_positions) == 1:
        return {}
    return {f"shard_{i}": database_answers(p.engine) for i, p in enumerate(parts.relay_positions)}


def process_registry() -> CollectorRegistry:
    """The API process's metrics: the use cases' command counter and what is built here."""
    registry = CollectorRegistry()
    registry.register(COMMANDS)
    return registry


def groups_of(group: str) -> dict[str, list[str]]:
    """The topics `group` reads (services/common/topics.py), for its lag."""
    return {group: [topic for topic, groups in CONSUMER_GROUPS.items() if group in groups]}


def _hold(app: FastAPI, parts: ApiParts, **more) -> None:
    """What handlers read from `request.app.state`: the parts, and settings, clock, tokens."""
    for name in ApiParts.__dataclass_fields__:
        setattr(app.state, name, getattr(parts, name))
    app.state.projections = parts.projections
    for name, value in more.items():
        setattr(app.state, name, value)


async def _connect(settings: DisputeSettings, broker: KafkaBroker, lanes: list[LanedBatches]) -> None:
    # Only the dead-letter topics it writes: the topics it reads are provisioned.
    await ensure_topics(settings.kafka_connection(), {t: {} for t in dead_letter_topics_of("dispute")},
                        settings.topic_partitions)
    for consumer_lanes in lanes:  # stopped by a failed connect before this one
        consumer_lanes.start()
    await broker.start()


async def _disconnect(broker: KafkaBroker, lanes: list[LanedBatches]) -> None:
    for consumer_lanes in lanes:  # what they finished is committed before the consumers stop
        await consumer_lanes.stop()
    await broker.stop()


def _lifespan(settings: DisputeSettings, parts: ApiParts, kafka: BackgroundConnection,
              run_consumers: bool, run_workers: bool, lag: ConsumerLag):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stopping = asyncio.Event()
        if run_consumers:
            kafka.begin()
            lag.begin()
        workers = _start_workers(app, parts, settings, stopping) if run_workers else []
        log.info("dispute_api_started", port=settings.http_port,
                 database=masked_url(settings.database_url),
                 shards=[masked_url(url) for url in settings.shard_database_urls()])
        with serving_heap(settings.gc_young_threshold):
            yield
        stopping.set()
        await asyncio.gather(*workers)
        await lag.end()
        await kafka.end()
        await asyncio.to_thread(parts.writer.close)

    return lifespan


def _start_workers(app: FastAPI, parts: ApiParts, settings: DisputeSettings,
                   stopping: asyncio.Event) -> list[asyncio.Task]:
    """The projections (following the store together), the deadline worker and the
    idempotency purge, on the app's clock (read at each tick: tests move it)."""
    now = lambda: app.state.clock()  # noqa: E731
    deadlines = DeadlineWorker(parts.disputes, parts.engine, now, metrics=app.state.deadline_metrics)
    purge = lambda: sum(keys.purge_expired(now()) for keys in parts.idempotency_stores)  # noqa: E731
    follower = ProjectionFollower(parts.projections)
    return [asyncio.create_task(follower.run(stopping, batch_wait=settings.projection_batch_wait)),
            asyncio.create_task(deadlines.run(stopping, settings.deadline_poll_interval)),
            asyncio.create_task(every(3600, purge, stopping, "idempotency_purge"))]
