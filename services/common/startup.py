"""Connecting to Kafka without holding the service hostage: HTTP serves at once, the consumers
connect in the background and keep trying (with backoff) while the broker is away."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable

import structlog

log = structlog.get_logger("startup")
Step = Callable[[], Awaitable[object]]


class BackgroundConnection:
    """`connect` runs until it succeeds (0.5 s doubling to 30 s between tries); `disconnect`
    runs at shutdown if it did. `connected` is what /health reports."""

    def __init__(self, name: str, connect: Step, disconnect: Step, max_backoff: float = 30.0):
        self.name, self._connect, self._disconnect = name, connect, disconnect
        self.max_backoff = max_backoff
        self.connected = False
        self._task: asyncio.Task | None = None

    def begin(self) -> None:
        self._task = asyncio.create_task(self._keep_trying(), name=f"connect-{self.name}")

    async def end(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.connected:
            await self._disconnect()

    async def _keep_trying(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._connect()
                self.connected = True
                log.info("kafka_connected", part=self.name)
                return
            except Exception as error:
                log.warning("kafka_unavailable", part=self.name, error=repr(error)[:300],
                            retry_in_seconds=delay)
                with contextlib.suppress(Exception):
                    await self._disconnect()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
