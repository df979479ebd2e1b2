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

from fastapi import Depends, Header, Query, Request, Response

DEFAULT_WAIT = 2.0
POLL = 0.02


def _positions(state) -> list[int]:
    return [projection.position() for projection in state.projections]


async def wait_for_projections(app_state, notification_id: int, timeout: float = DEFAULT_WAIT) -> bool:
    """True once every projection has processed `notification_id`; False after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if min(await asyncio.to_thread(_positions, app_state), default=notification_id) >= notification_id:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL)


@dataclass
class ProjectionWait:
    wanted: bool
    timeout: float = DEFAULT_WAIT

    async def after_command(self, request: Request, response: Response) -> None:
        """Wait (if asked) for the projections to reach every event stored so far, this
        command's included: the store's highest notification id is an upper bound for it."""
        if not self.wanted:
            return
        state = request.app.state
        head = await asyncio.to_thread(state.disputes.recorder.max_notification_id) or 0
        response.headers["Preference-Applied"] = "wait-for-projections"
        if not await wait_for_projections(state, head, self.timeout):
            response.headers["X-Projections-Lag"] = "true"


async def projection_wait(wait: Annotated[bool, Query(description="wait (bounded) until lists and "
                                                "timelines show this command")] = False,
                    prefer: Annotated[str | None, Header()] = None) -> ProjectionWait:
    preferences = {p.strip().lower() for p in (prefer or "").split(",")}
    return ProjectionWait(wanted=wait or "wait-for-projections" in preferences, timeout=DEFAULT_WAIT)


ReadYourWrites = Annotated[ProjectionWait, Depends(projection_wait)]
