"""Operator-only views of the platform's plumbing, under /v1/ops."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.common.conditional import conditional_json
from services.common.problems import Problem
from services.dispute.adapters.shards import shard_apps
from services.dispute.entrypoints.http.deps import Caller
from services.dispute.entrypoints.http.responses import LIST
from services.dispute.relay.lag import measure_lag

router = APIRouter(prefix="/v1/ops", tags=["operations"])


class ShardLagView(BaseModel):
    shard: int
    position: int
    last_notification_id: int
    events_pending: int
    oldest_pending_age_seconds: float


class RelayLagView(BaseModel):
    """With one shard, its figures; with several, the sums (the oldest age: the maximum) and
    each shard's under `shards`."""

    position: int
    last_notification_id: int
    events_pending: int
    oldest_pending_age_seconds: float
    shards: list[ShardLagView]


def lag_of_every_shard(state, now: datetime) -> RelayLagView:
    shards = [ShardLagView(shard=i, **measure_lag(app, position, now).as_dict())
              for i, (app, position) in enumerate(zip(shard_apps(state.disputes), state.relay_positions))]
    return RelayLagView(position=sum(s.position for s in shards),
                        last_notification_id=sum(s.last_notification_id for s in shards),
                        events_pending=sum(s.events_pending for s in shards),
                        oldest_pending_age_seconds=max(s.oldest_pending_age_seconds for s in shards),
                        shards=shards)


@router.get("/relay-lag", response_model=RelayLagView, responses=LIST)
async def relay_lag(caller: Caller, request: Request):
    """Events stored but not yet on Kafka, and how long the oldest of them has waited."""
    if caller.role != "operator":
        raise Problem(403, "FORBIDDEN", "only operators see the relay lag")
    lag = await asyncio.to_thread(lag_of_every_shard, request.app.state, datetime.now(timezone.utc))
    return conditional_json(request, lag)
