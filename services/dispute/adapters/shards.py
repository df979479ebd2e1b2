"""Shards of the event store: which database holds a dispute.

A dispute lives in shard `shard_index(id, N)` of the N databases listed in DISPUTE_SHARD_URLS,
for its whole life. The index is a pure function of the id (SHA-256 of its 16 bytes, mod N),
so every process agrees on it without asking anyone, across restarts and versions. N is fixed
once data exists: with another N most disputes would hash to a shard that does not hold them
(moving them is a migration of its own). Each shard has its own notification log, so
notification ids are only ordered within one shard; the dispute id is the Kafka key, so the
events of one dispute stay in order on one partition.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID


def shard_index(dispute_id: UUID, count: int) -> int:
    """The shard (0..count-1) holding the dispute; always 0 for one shard."""
    if count < 1:
        raise ValueError("a store has at least one shard")
    if count == 1:
        return 0  # every command asks: no hash for the answer every single-store process knows
    digest = hashlib.sha256(dispute_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_apps(store: Any) -> list[Any]:
    """The event store applications of `store`, in shard order: a sharded store's `shards`,
    or the one application of an unsharded store."""
    return list(getattr(store, "shards", None) or [store])


def shard_position_name(name: str, shard: int) -> str:
    """The name a follower of the store (projection generation, relay) keeps its position in
    shard `shard`'s log under; shard 0 keeps the name it had before stores were sharded."""
    return name if shard == 0 else f"{name}@{shard}"


def shard_app_for(store: Any, dispute_id: UUID) -> Any:
    """The application of the shard holding the dispute."""
    apps = shard_apps(store)
    return apps[shard_index(dispute_id, len(apps))]
