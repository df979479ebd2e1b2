"""The deadline worker: fires due timers as commands.

It asks the dispute index which disputes have a deadline due, then runs the timer command
on each (the application applies every deadline due by now). Timers are commands,
so two workers racing on one dispute meet as an ordinary concurrency conflict and the timer
fires once in effect; a stale index row (already met) loads, finds nothing due, saves nothing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Callable
from uuid import UUID

import structlog
from sqlalchemy import Engine, select

from services.common.logging import bound_to_logs
from services.dispute.application.metrics import DeadlineMetrics
from services.dispute.application.shards import Disputes
from services.dispute.adapters.event_store import command_context
from services.dispute.domain import DomainError
from services.dispute.domain.values import FINAL_STATES
from services.dispute.projections.dispute_index import live_index_table

log = structlog.get_logger("deadlines")


class DeadlineWorker:
    def __init__(self, app: Disputes, engine: Engine, clock: Callable[[], datetime],
                 batch_size: int = 200, metrics: DeadlineMetrics | None = None):
        self.app, self.engine, self.clock, self.batch_size = app, engine, clock, batch_size
        self.metrics = metrics or DeadlineMetrics()

    def due_disputes(self, now: datetime) -> list[UUID]:
        index = live_index_table(self.engine)
        query = (select(index.c.dispute_id)
                 .where(index.c.next_deadline <= now,
                        index.c.status.not_in(sorted(FINAL_STATES)))
                 .order_by(index.c.next_deadline).limit(self.batch_size))
        with self.engine.connect() as conn:
            return [UUID(row) for row in conn.execute(query).scalars()]

    def fire_due_once(self) -> int:
        """Apply the due deadlines of every due dispute; returns how many disputes changed."""
        now = self.clock()
        changed = 0
        for dispute_id in self.due_disputes(now):
            changed += self._fire(dispute_id, now)
        self.metrics.passed()
        return changed

    def _fire(self, dispute_id: UUID, now: datetime) -> int:
        with bound_to_logs(dispute_id=str(dispute_id)):
            try:
                with command_context(correlation_id=f"deadline:{dispute_id}:{now.isoformat()}"):
                    fired = self.app.fire_deadlines(dispute_id, now)
            except DomainError as error:  # a concurrent command or worker got there first
                log.info("deadline_skipped", code=error.code)
                return 0
            except Exception as error:  # one broken dispute must not hold up every other timer
                self.metrics.failures.inc()
                log.error("deadline_failed", error=repr(error)[:500], exc_info=error)
                return 0
            for deadline in fired:
                self.metrics.fired.labels(deadline=deadline).inc()
            if fired:
                log.info("deadlines_fired", deadlines=fired)
            return int(bool(fired))

    async def run(self, stopping: asyncio.Event, interval: float = 1.0) -> None:
        while not stopping.is_set():
            try:
                await asyncio.to_thread(self.fire_due_once)
            except Exception as error:
                log.error("deadline_worker_failed", error=repr(error))
            try:
                await asyncio.wait_for(stopping.wait(), interval)
            except TimeoutError:
                pass
