"""Run a blocking housekeeping job every so often, until the service stops."""

from __future__ import annotations

import asyncio
from typing import Callable

import structlog

log = structlog.get_logger("periodic")


async def every(interval: float, job: Callable[[], object], stopping: asyncio.Event,
                name: str) -> None:
    """Run `job` in a worker thread now and then every `interval` seconds; a failure is
    logged and the next round tries again."""
    while not stopping.is_set():
        try:
            result = await asyncio.to_thread(job)
            log.debug("periodic_job_done", job=name, result=result)
        except Exception as error:
            log.error("periodic_job_failed", job=name, error=repr(error))
        try:
            await asyncio.wait_for(stopping.wait(), interval)
        except TimeoutError:
            pass
