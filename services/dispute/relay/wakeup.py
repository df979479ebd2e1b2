"""When the relay looks again: at once when the store says it recorded something (PostgreSQL
LISTEN on the channel eventsourcing NOTIFYs on), else after the poll interval. The poll stays
as the fallback, so a lost notification or a dropped LISTEN connection only delays."""

from __future__ import annotations

import asyncio

import psycopg
import structlog
from psycopg import sql

log = structlog.get_logger("relay")


class PollingWakeup:
    def __init__(self) -> None:
        self._nudged = asyncio.Event()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def wait(self, timeout: float, stopping: asyncio.Event) -> None:
        """Return when nudged, stopping or after `timeout`; a nudge before the wait is kept."""
        waits = [asyncio.ensure_future(self._nudged.wait()), asyncio.ensure_future(stopping.wait())]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        self._nudged.clear()


class ListenWakeup(PollingWakeup):
    def __init__(self, url: str, channel: str, reconnect_after: float = 1.0):
        super().__init__()
        self.url, self.channel, self.reconnect_after = url, channel, reconnect_after
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                log.warning("relay_listen_failed", channel=self.channel, error=repr(exc)[:300])
            await asyncio.sleep(self.reconnect_after)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self._nudged.set()  # anything recorded while we were not listening
            async for _ in conn.notifies():
                self._nudged.set()


def wakeup_for(database_url: str, recorder) -> PollingWakeup:
    channel = getattr(recorder, "channel_name", None)
    if database_url.startswith("postgres") and channel:
        return ListenWakeup(database_url, channel)
    return PollingWakeup()
