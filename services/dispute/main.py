"""Composition root of the dispute service: `create_app(settings)` wires every part.

python -m services.dispute.main serve   HTTP API (+ the orders consumer)
python -m services.dispute.main relay   publish the event store to Kafka
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Callable

import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from services.common.database import (create_schema_racing_others, eventsourcing_env,
                                      sqlalchemy_engine)
from services.common.kafka import ensure_topics, kafka_broker
from services.common.topics import dead_letter_topics_of
from services.common.http import serve_unless_unsafe
from services.common.local_mode import UnsafeSettings
from services.common.logging import configure_logging
from services.common.periodic import every
from services.common.startup import BackgroundConnection
from services.common.token_settings import build_token_verifier
from services.common.urls import masked_url
from services.common.problems import install_problem_handlers
from services.dispute.api.routes import router
from services.dispute.api.setup import prepare_api
from services.dispute.application import DisputeApplication
from services.dispute.api.queries import router as queries_router
from services.dispute.consumers import register_order_consumer, register_refund_consumer
from services.dispute.deadlines import DeadlineWorker
from services.dispute.projections import DisputeIndexProjection
from services.dispute.timeline import TimelineProjection
from services.dispute.api.timeline import router as timeline_router
from services.dispute.api.console import router as console_router
from services.dispute.orders import OrderBook
from services.dispute import relay_process
from services.dispute.api.ops import router as ops_router
from services.dispute.settings import DisputeSettings

log = structlog.get_logger("dispute")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def build_application(settings: DisputeSettings) -> DisputeApplication:
    return create_schema_racing_others(lambda: DisputeApplication(
        env=eventsourcing_env(settings.database_url), ids=settings.dispute_ids(),
        policy=settings.policy(), chain_keys=settings.chain_keys()))


def build_broker(settings: DisputeSettings, order_book: OrderBook | None = None,
                 disputes: DisputeApplication | None = None) -> KafkaBroker:
    """The API's Kafka consumers, unconnected (`make asyncapi` documents this broker)."""
    broker = kafka_broker(settings.kafka_connection(), client_id="dispute-api")
    register_order_consumer(broker, order_book, disputes)
    register_refund_consumer(broker, disputes)
    return broker


def create_app(settings: DisputeSettings, clock: Callable[[], datetime] = utc_now,
               run_consumers: bool = True, run_workers: bool | None = None) -> FastAPI:
    """run_consumers: Kafka consumers; run_workers: projection and deadline worker
    (default: settings.run_workers). Raises UnsafeSettings before touching anything when the
    token settings are not fit outside local mode."""
    tokens = build_token_verifier(settings)
    engine = sqlalchemy_engine(settings.database_url)
    order_book = OrderBook(engine)
    create_schema_racing_others(order_book.create_tables)
    disputes = build_application(settings)
    projection = DisputeIndexProjection(disputes, engine)
    create_schema_racing_others(projection.create_tables)
    timeline = TimelineProjection(disputes, engine)
    create_schema_racing_others(timeline.create_tables)
    broker = build_broker(settings, order_book, disputes)
    run_workers = settings.run_workers if run_workers is None else run_workers

    async def connect() -> None:
        # Only the dead-letter topics it writes: the topics it reads are provisioned.
        await ensure_topics(settings.kafka_connection(), {t: {} for t in dead_letter_topics_of("dispute")},
                            settings.topic_partitions)
        await broker.start()

    kafka = BackgroundConnection("dispute-consumers", connect, broker.stop)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stopping = asyncio.Event()
        workers = []
        if run_consumers:
            kafka.begin()
        if run_workers:
            deadline_worker = DeadlineWorker(disputes, engine, lambda: app.state.clock())
            purge_keys = lambda: app.state.idempotency.purge_expired(app.state.clock())
            workers = [asyncio.create_task(projection.run(stopping)),
                       asyncio.create_task(timeline.run(stopping)),
                       asyncio.create_task(deadline_worker.run(stopping, settings.deadline_poll_interval)),
                       asyncio.create_task(every(3600, purge_keys, stopping, "idempotency_purge"))]
        log.info("dispute_api_started", port=settings.http_port, database=masked_url(settings.database_url))
        yield
        stopping.set()
        await asyncio.gather(*workers)
        await kafka.end()

    app = FastAPI(title="Dispute service", version="1", lifespan=lifespan)
    app.state.settings, app.state.clock, app.state.tokens = settings, clock, tokens
    app.state.disputes, app.state.orders, app.state.broker = disputes, order_book, broker
    app.state.engine, app.state.projection = engine, projection
    app.state.timeline, app.state.projections = timeline, [projection, timeline]
    install_problem_handlers(app)
    app.include_router(router)
    prepare_api(app, engine)
    app.include_router(ops_router)
    app.include_router(queries_router)
    app.include_router(timeline_router)
    app.include_router(console_router)
    app.get("/health")(lambda: {"status": "ok", "kafka": "connected" if kafka.connected
                                else ("off" if not run_consumers else "connecting")})
    return app


async def run_relay(settings: DisputeSettings, stopping: asyncio.Event) -> None:
    await relay_process.run_relay(settings, build_application(settings), stopping)


def _relay_main(settings: DisputeSettings) -> None:
    async def main():
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await run_relay(settings, stopping)

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.dispute.main")
    parser.add_argument("command", choices=["serve", "relay"])
    args = parser.parse_args(argv)
    settings = DisputeSettings()
    configure_logging(settings.log_level)
    try:
        settings.refuse_unsafe()
    except UnsafeSettings as refusal:
        log.error("refused_to_start", reason=str(refusal))
        return 2
    if args.command == "relay":
        _relay_main(settings)
        return 0
    return serve_unless_unsafe(lambda: create_app(settings), settings)


if __name__ == "__main__":
    sys.exit(main())
