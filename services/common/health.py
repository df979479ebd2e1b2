"""Liveness and readiness, the same on every HTTP service.

`GET /healthz`: the process serves (200, nothing checked). `GET /readyz`: 200 only when every
named check passes, else 503 `NOT_READY` naming what is missing (`"missing": ["database"]`).
`GET /health` keeps its old body (status and the Kafka connection state) for existing callers.
All three are GETs: the write guard and the rate limit never see them.
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Awaitable, Callable, Mapping

import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import Engine, text

from services.common.problems import problem_response
from services.common.startup import BackgroundConnection

log = structlog.get_logger("health")
Check = Callable[[], "bool | Awaitable[bool]"]
PROBE_TIMEOUT = 2.0  # seconds a check may take before it counts as failed


class Readiness:
    """Named checks, each answering True (ready) or False; one that raises or runs past
    `timeout` counts as False."""

    def __init__(self, checks: Mapping[str, Check], timeout: float = PROBE_TIMEOUT):
        self.checks, self.timeout = dict(checks), timeout

    async def missing(self) -> list[str]:
        results = await asyncio.gather(*(self._passes(name, check) for name, check in self.checks.items()))
        return [name for name, passed in zip(self.checks, results) if not passed]

    async def _passes(self, name: str, check: Check) -> bool:
        try:
            answer = check()
            if inspect.isawaitable(answer):
                answer = await asyncio.wait_for(answer, self.timeout)
            return bool(answer)
        except Exception as error:  # a timeout included: not ready, say why in the log
            log.warning("readiness_check_failed", check=name, error=repr(error)[:300])
            return False


def install_health_routes(app: FastAPI, checks: Mapping[str, Check],
                          kafka: BackgroundConnection | None = None, run_consumers: bool = True) -> None:
    """`/healthz`, `/readyz` and the old `/health` (with `kafka` in its body when the service
    has a Kafka connection)."""
    readiness = Readiness(checks)

    @app.get("/healthz", include_in_schema=False)
    async def alive():
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def ready():
        missing = await readiness.missing()
        if missing:
            return problem_response(503, "NOT_READY", f"not ready: {', '.join(missing)}", missing=missing)
        return {"status": "ready"}

    @app.get("/health", include_in_schema=False)
    async def health():
        return {"status": "ok"} if kafka is None else {"status": "ok", "kafka": kafka_state(kafka, run_consumers)}


def kafka_state(kafka: BackgroundConnection, run_consumers: bool) -> str:
    return "connected" if kafka.connected else ("connecting" if run_consumers else "off")


def database_answers(engine: Engine) -> Check:
    """`SELECT 1` on the service's engine, in a thread of its own: a hanging database makes the
    check time out without taking the threads the request handlers use."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness-db")

    def select_one() -> bool:
        with engine.connect() as connection:
            return connection.execute(text("SELECT 1")).scalar() == 1

    return lambda: asyncio.get_running_loop().run_in_executor(pool, select_one)


def kafka_connected(kafka: BackgroundConnection) -> Check:
    return lambda: kafka.connected


def consumers_assigned(kafka: BackgroundConnection, broker: KafkaBroker) -> Check:
    """Every subscriber of `broker` has partitions assigned (aiokafka's `assignment()` of the
    consumers faststream started for it). Judged only once connected: before that, `kafka` is
    what is missing. An instance left without partitions (more instances than partitions, or
    mid-rebalance) is not ready by this check."""
    return lambda: not kafka.connected or all(_assigned(subscriber) for subscriber in broker.subscribers)


def _assigned(subscriber) -> bool:
    consumers = getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)]
    return any(consumer is not None and consumer.assignment() for consumer in consumers)
