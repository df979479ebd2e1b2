"""Replay work spread over worker processes: a replay is CPU-bound in one Python process
(decoding, contract checks), so on N cores N processes go up to N times faster.

`ReplayWorkers(count, min_events_per_worker, open_store)`: `open_store` is a picklable function
(module level) that builds the event store in a worker from the environment, as the CLI does
(workers are spawned: a fresh interpreter, no connection of the parent's inherited). Fewer events
than `min_events_per_worker` for each worker means fewer workers: starting one costs about a CPU
second and a half (imports), more than it saves on a small store.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from services.common.bulk_gc import bulk_replay

_store: Any = None


@dataclass(frozen=True)
class ReplayWorkers:
    count: int
    """Worker processes; 0: one per CPU core; 1: none (the replay runs in this process)."""
    min_events_per_worker: int
    open_store: Callable[[], Any]

    def for_events(self, events: int) -> int:
        """How many workers `events` are worth (1: replay in this process)."""
        wanted = self.count or os.cpu_count() or 1
        return max(1, min(wanted, events // max(self.min_events_per_worker, 1)))

    def pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_open, initargs=(self.open_store,))


def _open(open_store: Callable[[], Any]) -> None:
    global _store
    _store = open_store()
    bulk_replay().__enter__()  # for the worker's whole life (it only replays)


def worker_store() -> Any:
    """The event store this worker process opened."""
    if _store is None:
        raise RuntimeError("not in a replay worker")
    return _store


def results_in_order(futures: list[Future]) -> Any:
    """Each future's result, in submission order (a later part may finish first)."""
    for future in futures:
        yield future.result()
