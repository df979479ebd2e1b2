"""Wiring the API's own parts into the app: idempotency keys, evidence files, body and rate
limits."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from services.common.database import create_schema_racing_others
from services.dispute.api.limits import install_limits
from services.dispute.evidence_store import EvidenceStore
from services.dispute.idempotency import IdempotencyStore


def prepare_api(app: FastAPI, engine: Engine) -> None:
    settings = app.state.settings
    keys = IdempotencyStore(engine, retention=settings.idempotency_retention)
    create_schema_racing_others(keys.create_tables)
    app.state.idempotency = keys
    app.state.evidence = EvidenceStore(Path(settings.evidence_dir))
    app.state.evidence.sweep_staged()
    install_limits(app)
