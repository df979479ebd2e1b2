"""Operator-only views of the platform's plumbing, under /v1/ops."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.entrypoints.http.deps import Caller
from services.dispute.entrypoints.http.responses import LIST
from services.dispute.relay.lag import measure_lag

router = APIRouter(prefix="/v1/ops", tags=["operations"])


class RelayLagView(BaseModel):
    position: int
    last_notification_id: int
    events_pending: int
    oldest_pending_age_seconds: float


@router.get("/relay-lag", response_model=RelayLagView, responses=LIST)
async def relay_lag(caller: Caller, request: Request):
    """Events stored but not yet on Kafka, and how long the oldest of them has waited."""
    if caller.role != "operator":
        raise Problem(403, "FORBIDDEN", "only operators see the relay lag")
    state = request.app.state
    lag = await asyncio.to_thread(measure_lag, state.disputes, state.relay_position,
                                  datetime.now(timezone.utc))
    return conditional_json(request, RelayLagView(**lag.as_dict()))
