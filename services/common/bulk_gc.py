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


@contextmanager
def bulk_replay(threshold: int = BULK_THRESHOLD) -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


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
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
