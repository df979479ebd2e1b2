"""Orders whose disputes land in chosen shards, so a sharded test covers every shard by
construction (dispute ids are keyed hashes of (order, item): the shard is known in advance)."""

from __future__ import annotations

from itertools import count

from services.dispute.adapters.shards import shard_index


def orders_per_shard(settings, shards: int, per_shard: int, prefix: str = "O",
                     item_id: str = "I-1") -> dict[int, list[str]]:
    """shard -> `per_shard` order ids whose dispute on `item_id` that shard holds."""
    chosen: dict[int, list[str]] = {shard: [] for shard in range(shards)}
    ids = settings.dispute_ids()
    for n in count():
        order_id = f"{prefix}-{n}"
        shard = shard_index(ids.for_new_dispute(order_id, item_id), shards)
        if len(chosen[shard]) < per_shard:
            chosen[shard].append(order_id)
        if all(len(orders) == per_shard for orders in chosen.values()):
            return chosen
    raise AssertionError("unreachable")
