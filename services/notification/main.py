"""Composition root of the notification service: HTTP inbox (inbox_api.py), the
`disputes.events` consumer (consumer.py, which asks notices.py who is told what) and the
e-mail sender (mail_sender.py, draining email_outbox.py).

python -m services.notification.main
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from contextlib import asynccontextmanager
from typing import Callable

if __name__ == "__main__":  # a process of its own: before structlog is imported
    from services.common.lean_process import leave_out_console_extras
    leave_out_console_extras()

import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from contracts.topics import dead_letter_topic
from services.common.body_limit import limit_bodies
from services.common.bulk_gc import serving_heap
from services.common.startup import BackgroundConnection
from services.common.database import create_schema_racing_others, sqlalchemy_engine
from services.common.health import (consumers_assigned, database_answers, install_health_routes,
                                    kafka_connected)
from services.common.kafka import ensure_topics, kafka_broker
from services.common.kafka_metrics import ConsumerLag, consumer_middlewares
from services.common.metrics import instrument_http
from services.common.http import serve_unless_unsafe
from services.common.local_mode import require_kafka_principal
from services.common.token_settings import build_token_verifier
from services.common.logging import configure_logging
from services.common.openapi import install_openapi, operation_id
from services.common.problems import install_problem_handlers
from services.common.write_guard import guard_writes
from services.notification.consumer import GROUP, NotifyConfig, register_dispute_consumer
from services.notification.email_outbox import EmailOutbox
from services.notification.inbox_api import install_inbox_routes, principal_from
from services.notification.mail_sender import Backoff, EmailSender, SmtpServer
from services.notification.metrics import NotificationMetrics
from services.notification.notices import Recipient
from services.notification.settings import NotificationSettings
from services.notification.store import NotificationStore, Profile

log = structlog.get_logger("notification")


def build_broker(settings: NotificationSettings, store: NotificationStore | None = None,
                 metrics: NotificationMetrics | None = None,
                 stored: Callable[[], None] | None = None) -> KafkaBroker:
    """The service's Kafka consumers, unconnected (`make asyncapi` documents this broker); their
    metrics go to `metrics.registry` when given; `stored` is called when a batch stored events."""
    middlewares = consumer_middlewares(metrics.registry, "notification", GROUP) if metrics else ()
    broker = kafka_broker(settings.kafka_connection(), client_id="notification", middlewares=middlewares)
    register_dispute_consumer(broker, store, notify_config(settings), metrics, stored)
    return broker


def create_app(settings: NotificationSettings, run_consumers: bool = True) -> FastAPI:
    """Raises UnsafeSettings before touching anything when the token settings are not fit
    outside local mode."""
    tokens = build_token_verifier(settings)
    engine = sqlalchemy_engine(settings.database_url)
    store = NotificationStore(engine)
    create_schema_racing_others(store.create_tables)
    seed_recipients(store, settings)
    metrics = NotificationMetrics(CollectorRegistry())
    sender = email_sender(EmailOutbox(engine), settings, metrics)
    broker = build_broker(settings, store, metrics, stored=sender.wake)  # its e-mails sent at once
    lag = ConsumerLag(settings.kafka_connection(), {GROUP: [settings.events_topic]}, metrics.registry,
                      settings.consumer_lag_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        sending = None
        if run_consumers:
            kafka.begin()
            lag.begin()
            sending = asyncio.create_task(sender.run(), name="email-sender")
        log.info("notification_started", port=settings.http_port, topic=settings.events_topic,
                 smtp=f"{settings.smtp_host}:{settings.smtp_port}")
        with serving_heap(settings.gc_young_threshold):
            yield
        if sending is not None:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
        await lag.end()
        await kafka.end()

    async def connect() -> None:
        await ensure_consumed_topics(settings)
        await broker.start()

    kafka = BackgroundConnection("notification-consumer", connect, broker.stop)
    app = FastAPI(title="Notification service", version="1", lifespan=lifespan,
                  generate_unique_id_function=operation_id)
    install_openapi(app)
    app.state.store, app.state.sender = store, sender
    install_problem_handlers(app)
    install_inbox_routes(app, store, tokens)
    guard_writes(app, lambda request: principal_from(tokens, request.headers.get("authorization")),
                 settings.rate_limit_per_second, settings.rate_limit_burst)
    limit_bodies(app, settings.max_body_bytes)
    install_health_routes(app, {"database": database_answers(engine), "kafka": kafka_connected(kafka),
                                "consumers": consumers_assigned(kafka, broker)},
                          kafka, run_consumers)
    instrument_http(app, metrics.registry)
    return app


def notify_config(settings: NotificationSettings) -> NotifyConfig:
    return NotifyConfig(operators=settings.operators_recipient,
                        operators_email=settings.operators_email, topic=settings.events_topic,
                        email_fallback_domain=settings.email_fallback_domain,
                        attempts=settings.handler_attempts, backoff=settings.handler_backoff,
                        redelivery_pause=settings.handler_redelivery_pause,
                        max_record_bytes=settings.kafka_max_record_bytes,
                        batch_max=settings.batch_max)


def email_sender(outbox: EmailOutbox, settings: NotificationSettings,
                 metrics: NotificationMetrics | None = None) -> EmailSender:
    smtp = SmtpServer(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                      settings.smtp_timeout, settings.smtp_sessions, settings.smtp_idle_timeout)
    backoff = Backoff(settings.email_max_attempts, settings.email_backoff_initial,
                      settings.email_backoff_max)
    return EmailSender(outbox, smtp, backoff, poll_interval=settings.outbox_poll_interval,
                       metrics=metrics)


def seed_recipients(store: NotificationStore, settings: NotificationSettings) -> None:
    """Party profiles from configuration; a profile the party set through the API wins. (The
    operators' address is not a profile: it is read from the settings on every event.)"""
    for key, fields in settings.recipients.items():
        store.set_profile(Recipient.parse(key), Profile(fields.get("email"), fields.get("time_zone")),
                          replace=False)


async def ensure_consumed_topics(settings: NotificationSettings) -> None:
    # Only the dead-letter topic it writes: the topic it reads is provisioned.
    topic = settings.events_topic
    await ensure_topics(settings.kafka_connection(), {dead_letter_topic(topic, GROUP): {}},
                        settings.topic_partitions)


def main() -> int:
    settings = NotificationSettings()
    configure_logging(settings.log_level)
    def build():
        require_kafka_principal(settings)
        return create_app(settings)

    return serve_unless_unsafe(build, settings)


if __name__ == "__main__":
    sys.exit(main())
