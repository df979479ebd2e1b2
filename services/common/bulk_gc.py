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


_active: list[list[int]] = []
"""The young thresholds of the tunings entered and not yet left, oldest first (each its own
list, so it is removed by identity): the collector is the process's, so a tuning inside or
beside another (a replay inside a server, two shards' relays) must neither unfreeze the other's
heap nor leave its threshold on it when it leaves first."""
_python_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def _tuned(young_threshold: int, collect_first: bool) -> Iterator[None]:
    global _python_thresholds
    if not _active:
        _python_thresholds = gc.get_threshold()
        if collect_first:
            gc.collect()
    gc.freeze()  # what this one has built too (a shard built later); freezing only adds
    mine = [young_threshold]
    _active.append(mine)
    gc.set_threshold(young_threshold, *_python_thresholds[1:])
    try:
        yield
    finally:
        _active.remove(mine)
        if _active:
            gc.set_threshold(_active[-1][0], *_python_thresholds[1:])
        else:
            gc.set_threshold(*_python_thresholds)
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
