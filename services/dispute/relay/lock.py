"""Only one relay publishes at a time: two publishers of one log would interleave on Kafka.

PostgreSQL: a session-level advisory lock on a dedicated connection, held while publishing;
when the holder dies its session ends, the lock is released and a standby takes over.
SQLite (one machine): an OS file lock on `<dbfile>.relay.lock`, released by the kernel when
the holding process dies.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import tempfile

import psycopg
import structlog

log = structlog.get_logger("relay")


class LockLost(Exception):
    """The lock is no longer held: stop publishing, a standby may already have taken over."""


class PostgresRelayLock:
    def __init__(self, url: str, name: str):
        self.url, self.name, self.key = url, name, advisory_key(name)
        self._conn: psycopg.AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def still_held(self) -> bool:
        """A session-level lock lives as long as its session: a live session still holds it."""
        if self._conn is None:
            return False
        try:
            await asyncio.wait_for(self._conn.execute("SELECT 1"), timeout=5)
            return True
        except (psycopg.Error, TimeoutError, AttributeError):
            return False

    async def release(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class FileRelayLock:
    def __init__(self, path: str):
        self.path, self.name = path, path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Unguarded:
    """For a relay embedded where nothing else can publish the same log (tests, one-offs)."""

    name = "unguarded"

    async def try_acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key per relay name (the topic it publishes to)."""
    digest = hashlib.sha256(f"dispute-relay:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def relay_lock_for(database_url: str, name: str):
    if database_url.startswith("postgres"):
        return PostgresRelayLock(database_url, name)
    path = database_url.split("sqlite:///", 1)[-1]
    if not path or path == ":memory:":
        path = os.path.join(tempfile.gettempdir(), f"dispute-memory-{os.getpid()}")
    return FileRelayLock(f"{path}.relay.lock")


async def wait_for_lock(lock, stopping: asyncio.Event, retry_interval: float = 0.5) -> bool:
    """Standby until the lock is ours (True) or we are asked to stop (False)."""
    announced = False
    while not stopping.is_set():
        if await _try(lock):
            return True
        if not announced:
            log.info("relay_standby", lock=lock.name, retry_interval=retry_interval)
            announced = True
        try:
            await asyncio.wait_for(stopping.wait(), retry_interval)
        except TimeoutError:
            pass
    return False


async def _try(lock) -> bool:
    try:
        return await lock.try_acquire()
    except (psycopg.Error, OSError) as exc:
        log.warning("relay_lock_unavailable", lock=lock.name, error=repr(exc)[:300])
        await lock.release()
        return False
