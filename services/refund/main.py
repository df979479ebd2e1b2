"""Composition root of the refund service.

The payment-provider adapter and exactly-once refunds come with the consumers issue; until
then a refund instruction is logged, not paid (see README, "What works today").

python -m services.refund.main
"""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager

import structlog
import uvicorn
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from services.common.logging import configure_logging
from services.common.topics import ensure_platform_topics
from services.common.problems import install_problem_handlers
from services.refund.handlers import register_dispute_consumer
from services.refund.settings import RefundSettings

log = structlog.get_logger("refund")


async def log_instruction(instruction, envelope) -> None:
    log.warning("refund_instruction_not_paid_yet", dispute_id=instruction.dispute_id,
                amount=str(instruction.amount), currency=instruction.currency)


def create_app(settings: RefundSettings, run_consumers: bool = True) -> FastAPI:
    broker = KafkaBroker(settings.kafka_bootstrap, client_id="refund")
    register_dispute_consumer(broker, log_instruction)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if run_consumers:
            await ensure_platform_topics(settings.kafka_bootstrap, settings.topic_partitions)
            await broker.start()
        log.info("refund_started", port=settings.http_port)
        yield
        if run_consumers:
            await broker.stop()

    app = FastAPI(title="Refund service", version="1", lifespan=lifespan)
    install_problem_handlers(app)
    app.get("/health")(lambda: {"status": "ok"})
    return app


def main() -> int:
    settings = RefundSettings()
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
                log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
