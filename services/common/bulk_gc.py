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
