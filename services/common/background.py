"""A loop a service runs beside its work from start to stop (lag measurements, reconciles):
`begin()` once connected, `end()` at shutdown; the subclass's `_run` is the loop."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    name = "background"

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    def begin(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def end(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
