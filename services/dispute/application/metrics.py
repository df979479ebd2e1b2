"""The dispute service's business metrics: commands by type and outcome, deadlines fired.

`COMMANDS` is the process's one command counter: use cases count into it wherever they are
called from (HTTP, Kafka), and the API's composition root registers it in its registry.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.dispute.domain import DomainError

ACCEPTED, FAILED, REPLAYED = "accepted", "error", "replayed"

COMMANDS = Counter("dispute_commands", "Commands run on disputes, by command and outcome "
                   "(accepted, the refusal's error code, or error)", ["command", "outcome"],
                   registry=None)


@contextmanager
def counted(command: object) -> Iterator[None]:
    """Count one run of `command` by its outcome; exceptions pass through unchanged."""
    name = type(command).__name__
    try:
        yield
    except DomainError as refusal:
        COMMANDS.labels(command=name, outcome=refusal.code).inc()
        raise
    except Exception:
        COMMANDS.labels(command=name, outcome=FAILED).inc()
        raise
    COMMANDS.labels(command=name, outcome=ACCEPTED).inc()


class DeadlineMetrics:
    """What the deadline worker did, and when it last finished a pass (a stalled worker shows
    as an old timestamp; it starts at the worker's creation, so one stuck from the start shows
    too). Only a process that runs the worker has these."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.fired = Counter("dispute_deadlines_fired", "Deadlines fired by the deadline worker",
                             ["deadline"], registry=self.registry)
        self.failures = Counter("dispute_deadline_failures", "Disputes whose due deadlines "
                                "could not be fired (a conflict excepted)", registry=self.registry)
        self.last_pass = Gauge("dispute_deadline_worker_last_pass_timestamp_seconds",
                               "When the deadline worker last finished a pass over due disputes",
                               registry=self.registry)
        self.passed()

    def passed(self) -> None:
        self.last_pass.set(time.time())


def count_outcome(command: object, accepted: bool, refusal: str | None = None,
                  replayed: bool = False) -> None:
    """Count one command the writer settled: accepted, refused (its code), replayed under its
    Idempotency-Key, or failed (the store away)."""
    outcome = ACCEPTED if accepted else REPLAYED if replayed else refusal or FAILED
    COMMANDS.labels(command=type(command).__name__, outcome=outcome).inc()
