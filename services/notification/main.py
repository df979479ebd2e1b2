"""Composition root of the notification service: HTTP inbox + the `disputes.events` consumer.

python -m services.notification.main
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
import uvicorn
from fastapi import FastAPI, Header, Query, Request

from services.common.auth import AuthError, read_token
from services.common.database import create_schema_racing_others, sqlalchemy_engine
from services.common.logging import configure_logging
from services.common.topics import ensure_platform_topics
from services.common.problems import Problem, install_problem_handlers
from services.notification.handlers import register_dispute_consumer
from services.notification.settings import NotificationSettings
from services.notification.store import NotificationStore
from faststream.kafka import KafkaBroker

log = structlog.get_logger("notification")


def build_broker(settings: NotificationSettings, store: NotificationStore | None = None) -> KafkaBroker:
    """The service's Kafka consumers, unconnected (`make asyncapi` documents this broker)."""
    broker = KafkaBroker(settings.kafka_bootstrap, client_id="notification")
    register_dispute_consumer(broker, store)
    return broker


def create_app(settings: NotificationSettings, run_consumers: bool = True) -> FastAPI:
    store = NotificationStore(sqlalchemy_engine(settings.database_url))
    create_schema_racing_others(store.create_tables)
    broker = build_broker(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if run_consumers:
            await ensure_platform_topics(settings.kafka_bootstrap, settings.topic_partitions)
            await broker.start()
        log.info("notification_started", port=settings.http_port)
        yield
        if run_consumers:
            await broker.stop()

    app = FastAPI(title="Notification service", version="1", lifespan=lifespan)
    app.state.store = store
    install_problem_handlers(app)

    def caller(authorization: str | None):
        try:
            return read_token(settings.jwt_secret, authorization)
        except AuthError as exc:
            raise Problem(401, "UNAUTHENTICATED", str(exc)) from None

    @app.get("/v1/notifications")
    async def list_notifications(recipient: Annotated[str | None, Query(max_length=128)] = None,
                                 authorization: Annotated[str | None, Header()] = None):
        who = caller(authorization)
        if who.role != "operator":
            if recipient not in (None, who.id):
                raise Problem(403, "FORBIDDEN", "you may read only your own notifications")
            recipient = who.id
        items = await asyncio.to_thread(store.inbox, recipient)
        return {"items": items}

    @app.post("/v1/notifications/{notification_id}/read", status_code=204)
    async def mark_read(notification_id: str, authorization: Annotated[str | None, Header()] = None):
        who = caller(authorization)
        owner = None if who.role == "operator" else who.id
        if not await asyncio.to_thread(store.mark_read, notification_id, owner):
            raise Problem(404, "NOT_FOUND", "no such notification in your inbox")

    app.get("/health")(lambda: {"status": "ok"})
    return app


def main() -> int:
    settings = NotificationSettings()
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
