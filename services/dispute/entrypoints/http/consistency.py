"""Read-your-writes for commands: optionally wait until the projections have seen the command.

Lists and timelines are projections, a moment behind the store. A client that wants to read
its own write asks the command to wait, with `Prefer: wait-for-projections` or `?wait=true`;
the wait is bounded (`DEFAULT_WAIT` seconds). The answer then carries
`Preference-Applied: wait-for-projections`, and `X-Projections-Lag: true` if the projections
were still behind when the wait ran out (the command itself succeeded either way).

A command route adopts it with one parameter and one line before it returns:

    async def make_offer(..., request: Request, response: Response, consistency: ReadYourWrites):
        ...
        await consistency.after_command(request, response)
        return view
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated

from uuid import UUID

from fastapi import Depends, Header, Query, Request, Response

from services.dispute.adapters.shards import shard_apps
from services.dispute.application.shards import index_of

DEFAULT_WAIT = 2.0
POLL = 0.02


def _positions(state, shard: int) -> list[int]:
    return [projection.position(shard) for projection in state.projections]


def _heads(state, dispute_id: UUID | None) -> dict[int, int]:
    """shard -> its highest notification id: the dispute's shard alone when it is known (its
    log is the only one the command wrote to), else every shard."""
    shards = shard_apps(state.disputes)
    wanted = range(len(shards)) if dispute_id is None else [index_of(state.disputes, dispute_id)]
    return {shard: shards[shard].recorder.max_notification_id() or 0 for shard in wanted}


async def wait_for_projections(app_state, notification_id: int, timeout: float = DEFAULT_WAIT,
                               shard: int = 0) -> bool:
    """True once every projection has processed `notification_id` of shard `shard`'s log;
    False after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        positions = await asyncio.to_thread(_positions, app_state, shard)
        if min(positions, default=notification_id) >= notification_id:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL)


@dataclass
class ProjectionWait:
    wanted: bool
    timeout: float = DEFAULT_WAIT

    async def after_command(self, request: Request, response: Response,
                            dispute_id: UUID | None = None) -> None:
        """Wait (if asked) for the projections to reach every event stored so far in the
        dispute's shard, this command's included: the shard's highest notification id is an
        upper bound for it. The dispute is `dispute_id`, else the path's; unknown: every shard."""
        if not self.wanted:
            return
        state = request.app.state
        heads = await asyncio.to_thread(_heads, state, dispute_id or _path_dispute(request))
        response.headers["Preference-Applied"] = "wait-for-projections"
        deadline = time.monotonic() + self.timeout
        for shard, head in heads.items():
            left = max(0.0, deadline - time.monotonic())
            if not await wait_for_projections(state, head, left, shard):
                response.headers["X-Projections-Lag"] = "true"
                return


def _path_dispute(request: Request) -> UUID | None:
    try:
        return UUID(str(request.path_params.get("dispute_id")))
    except ValueError:
        return None


async def projection_wait(wait: Annotated[bool, Query(description="wait (bounded) until lists and "
                                                "timelines show this command")] = False,
                    prefer: Annotated[str | None, Header()] = None) -> ProjectionWait:
    preferences = {p.strip().lower() for p in (prefer or "").split(",")}
    return ProjectionWait(wanted=wait or "wait-for-projections" in preferences, timeout=DEFAULT_WAIT)


ReadYourWrites = Annotated[ProjectionWait, Depends(projection_wait)]
