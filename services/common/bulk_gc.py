"""The garbage collector tuned for a long replay (projection rebuild, audit export, verify).

Replaying allocates a few containers per event (rows, decoded states, events, aggregates'
lists) that reference counting frees at once; CPython's cyclic collector still runs every 700
net allocations and walks the young objects, and every so often all of them, the kept
aggregates included: on a rebuild that was a quarter of its CPU. Inside `bulk_replay()` the
objects that exist already (modules, settings, the application) are frozen out of the
collector's sight and the youngest generation collects every BULK_THRESHOLD allocations
instead: cyclic garbage is still collected, less often, so memory stays flat.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

BULK_THRESHOLD = 100_000


_thresholds: list[tuple[int, int, int]] = []
"""The collector's thresholds to go back to, one per tuning entered and not yet left: the
collector is the process's, so a tuning inside another (a replay inside a server) must not
unfreeze the outer one's heap on leaving."""


@contextmanager
def _tuned(young_threshold: int, collect_first: bool) -> Iterator[None]:
    if not _thresholds:
        if collect_first:
            gc.collect()
        gc.freeze()
    _thresholds.append(gc.get_threshold())
    gc.set_threshold(young_threshold, *_thresholds[-1][1:])
    try:
        yield
    finally:
        gc.set_threshold(*_thresholds.pop())
        if not _thresholds:
            gc.unfreeze()


def bulk_replay(threshold: int = BULK_THRESHOLD):
    """A replay's collector (the module's docstring)."""
    return _tuned(threshold, collect_first=False)


@contextmanager
def serving_heap(young_threshold: int) -> Iterator[None]:
    """A long-running server's collector: what start-up built (modules, the app, pools) frozen
    out of the collector's sight, the youngest generation collected every `young_threshold`
    allocations. A full collection walks every tracked object: in the dispute API that was
    ~170,000 objects after start-up, one pause of 50-450 ms (wall, on the shared 2-core machine)
    that stalled the event loop and the writer's thread together, every few tens of seconds under
    load. Frozen, a full collection walks only what was made since (the cache, views, pending
    requests). Start-up's cyclic garbage is collected first (a frozen cycle is never freed);
    the collector is left as it was on leaving (tests run many apps in one process).
    `young_threshold` 0: the collector untouched."""
    if young_threshold <= 0:
        yield
        return
    with _tuned(young_threshold, collect_first=True):
        yield
