"""A payment provider's refund API, as the big ones behave: `POST /refunds` with an
`Idempotency-Key`; a replay returns the first result, the same key with another body is an
error. Faults (500s, late answers, latency) are injected by settings or `POST /admin/faults`."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated

from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from sqlalchemy import event
from pydantic import BaseModel, ConfigDict, Field

from services.common.body_limit import limit_bodies
from services.common.health import database_answers, install_health_routes
from services.common.database import create_schema_racing_others, sqlalchemy_engine
from services.common.metrics import instrument_http
from services.common.problems import Problem, install_problem_handlers, problem_response
from standins.payment_provider.faults import FAIL, SLOW, FaultPlan, Faults
from standins.payment_provider.settings import SimulatorSettings
from standins.payment_provider.store import KeyReusedWithDifferentPayload, Ledger


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    order_reference: str = Field(min_length=1, max_length=200)
    metadata: dict[str, str] = Field(default_factory=dict)

    def canonical(self) -> dict:
        return {"amount": str(self.amount.quantize(Decimal("0.01"))), "currency": self.currency,
                "order_reference": self.order_reference, "metadata": self.metadata}


class FaultSettings(BaseModel):
    failure_rate: float = Field(0.0, ge=0.0, le=1.0)
    fail_first_n: int = Field(0, ge=0)
    timeout_first_n: int = Field(0, ge=0)
    timeout_seconds: float | None = Field(None, ge=0.0)
    latency_ms: int | None = Field(None, ge=0)


def ledger_engine(url: str):
    """The ledger's store. Its commits are not waited for on the disk one by one: on SQLite (WAL)
    synchronous=NORMAL, on PostgreSQL synchronous_commit=off for the ledger's own sessions (the
    server still writes and flushes every commit, within wal_writer_delay; other databases keep
    waiting for theirs). Both stay safe when a process dies, which is what the tests kill: the
    simulator's, since the server holds what it committed. With a flush waited for per refund,
    concurrent refunds queued for the disk the whole machine shares (~150 ms each under load on
    SQLite; on PostgreSQL two of the three flushes on a refund's path were the simulator's
    insert and our own): a latency no provider would add and the benchmark would charge to the
    refund service."""
    engine = sqlalchemy_engine(url)
    event.listen(engine, "connect", _no_flush_per_commit_sqlite if engine.dialect.name == "sqlite"
                 else _no_flush_wait_per_commit_postgres)
    return engine


def _no_flush_per_commit_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _no_flush_wait_per_commit_postgres(dbapi_connection, _record) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    dbapi_connection.commit()  # a SET committed lasts for the session


def create_app(settings: SimulatorSettings) -> FastAPI:
    ledger = Ledger(ledger_engine(settings.database_url))
    create_schema_racing_others(ledger.create_tables)
    faults = Faults(FaultPlan(settings.failure_rate, settings.fail_first_n, settings.timeout_first_n))
    timing = {"timeout_seconds": settings.timeout_seconds, "latency_ms": settings.latency_ms}
    app = FastAPI(title="Payment provider simulator", version="1")
    install_problem_handlers(app)
    limit_bodies(app, settings.max_body_bytes)

    @app.post("/refunds", status_code=201)
    async def create_refund(request: RefundRequest,
                            idempotency_key: Annotated[str | None, Header(max_length=255)] = None):
        if not idempotency_key:
            raise Problem(400, "IDEMPOTENCY_KEY_REQUIRED", "send an Idempotency-Key header")
        await asyncio.sleep(timing["latency_ms"] / 1000)
        fault = faults.next_for(idempotency_key)
        if fault == FAIL:
            return problem_response(500, "PROVIDER_INTERNAL_ERROR", "injected failure")
        try:
            refund, replayed = await asyncio.to_thread(ledger.refund, idempotency_key, request.canonical())
        except KeyReusedWithDifferentPayload:
            raise Problem(422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD",
                          "this Idempotency-Key was used with another request body") from None
        if fault == SLOW:
            await asyncio.sleep(timing["timeout_seconds"])
        return JSONResponse(refund, status_code=201,
                            headers={"Idempotent-Replayed": "true" if replayed else "false"})

    @app.get("/refunds")
    async def list_refunds(order_reference: Annotated[str | None, Query(max_length=200)] = None):
        return {"data": await asyncio.to_thread(ledger.list, order_reference)}

    @app.get("/refunds/{refund_id}")
    async def get_refund(refund_id: str):
        refund = await asyncio.to_thread(ledger.get, refund_id)
        if refund is None:
            raise Problem(404, "NOT_FOUND", "no such refund")
        return refund

    @app.post("/admin/faults")
    async def set_faults(new: FaultSettings):
        faults.plan = FaultPlan(new.failure_rate, new.fail_first_n, new.timeout_first_n)
        faults.attempts.clear()
        timing.update({k: v for k in timing if (v := getattr(new, k)) is not None})
        return {**vars(faults.plan), **timing}

    install_health_routes(app, {"database": database_answers(ledger.engine)})
    instrument_http(app, CollectorRegistry())
    return app
