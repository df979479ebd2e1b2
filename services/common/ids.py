"""Random (version 4) UUIDs for the request path, from the same kernel randomness as
`uuid.uuid4`, fetched 4 KiB at a time.

`uuid.uuid4()` calls `os.urandom(16)`, which lets go of the GIL around the system call: on
the API's event loop each id then waited for the command writer's thread to hand the GIL
back (up to the switch interval), three times per command (py-spy on the command path). A
pool per thread makes that one wait per 256 ids; a forked child starts with an empty pool,
so no two processes hand out the same bytes.
"""

from __future__ import annotations

import os
import threading
from uuid import UUID

POOL_BYTES = 4096
ID_BYTES = 16


class _Pool(threading.local):
    def __init__(self) -> None:
        self.data, self.at = b"", 0


_pool = _Pool()


def _forget_in_child() -> None:
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_forget_in_child)


def uuid4() -> UUID:
    """A random UUID, as `uuid.uuid4()` makes it (version and variant bits set)."""
    pool = _pool
    if pool.at + ID_BYTES > len(pool.data):
        pool.data, pool.at = os.urandom(POOL_BYTES), 0
    start = pool.at
    pool.at = start + ID_BYTES
    return UUID(bytes=pool.data[start:start + ID_BYTES], version=4)
