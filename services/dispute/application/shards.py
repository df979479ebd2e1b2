"""The sharded dispute store: the dispute application of every shard behind the methods
callers use on one (HTTP routes, Kafka consumers, the deadline worker), each routed to the
shard of its dispute id (adapters/shards.py).

A new dispute's shard is known before it exists: its id is derived from (order, item)
(`DisputeIds.for_item`). A writer or cache per shard is built over `shards`, with
`index_of` / `app_for` to route to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Protocol, Sequence, TypeVar
from uuid import UUID

from services.dispute.adapters.audit_chain import ChainKeys
from services.dispute.adapters.shards import shard_apps, shard_index
from services.dispute.application.disputes import DisputeApplication
from services.dispute.domain import Dispute, DisputeIds, DisputePolicy, OrderFacts
from services.dispute.domain.values import Actor

T = TypeVar("T")


class ShardedDisputes:
    def __init__(self, shards: Sequence[DisputeApplication]):
        if not shards:
            raise ValueError("a sharded store has at least one shard")
        self.shards = list(shards)
        first = self.shards[0]
        self.ids, self.policy, self.chain_keys = first.ids, first.policy, first.chain_keys

    def index_of(self, dispute_id: UUID) -> int:
        return shard_index(dispute_id, len(self.shards))

    def app_for(self, dispute_id: UUID) -> DisputeApplication:
        return self.shards[self.index_of(dispute_id)]

    def get_dispute(self, dispute_id: UUID, version: int | None = None) -> Dispute:
        return self.app_for(dispute_id).get_dispute(dispute_id, version)

    def parties_of(self, dispute_id: UUID) -> tuple[str, str]:
        return self.app_for(dispute_id).parties_of(dispute_id)

    def execute(self, dispute_id: UUID, at: datetime, command: Callable[[Dispute], T],
                expected_version: int | None = None,
                actor: Actor | None = None) -> tuple[Dispute, T]:
        return self.app_for(dispute_id).execute(dispute_id, at, command, expected_version, actor)

    def fire_deadlines(self, dispute_id: UUID, at: datetime) -> list[str]:
        return self.app_for(dispute_id).fire_deadlines(dispute_id, at)

    def dispute_ids_for_item(self, order_id: str, item_id: str) -> tuple[UUID, UUID]:
        return self.ids.for_item(order_id, item_id)

    def open_dispute(self, *, order: OrderFacts, item_id: str, **opening: Any) -> Dispute:
        """In the shard of the item's keyed id; a dispute under its former id (opened before
        ids were keyed) lives in that id's shard and is refused from there first."""
        dispute_id, former_id = self.ids.for_item(order.order_id, item_id)
        self.app_for(former_id)._refuse_second_dispute(former_id)
        return self.app_for(dispute_id).open_dispute(order=order, item_id=item_id, **opening)


class Disputes(Protocol):
    """What callers route commands through: one application, or one per shard behind the
    facade (both have these)."""

    ids: DisputeIds
    policy: DisputePolicy
    chain_keys: ChainKeys

    def get_dispute(self, dispute_id: UUID, version: int | None = None) -> Dispute: ...

    def parties_of(self, dispute_id: UUID) -> tuple[str, str]: ...

    def execute(self, dispute_id: UUID, at: datetime, command: Callable[[Dispute], T],
                expected_version: int | None = None,
                actor: Actor | None = None) -> tuple[Dispute, T]: ...

    def fire_deadlines(self, dispute_id: UUID, at: datetime) -> list[str]: ...

    def dispute_ids_for_item(self, order_id: str, item_id: str) -> tuple[UUID, UUID]: ...

    def open_dispute(self, *, order: OrderFacts, item_id: str, actor: Actor, reason: str,
                     request: str, request_amount: Any, description: str,
                     at: datetime) -> Dispute: ...


def sharded(disputes: Disputes) -> ShardedDisputes:
    """The facade over `disputes` (a one-shard facade over a lone application), for parts that
    are built per shard (a writer, a cache) whatever the number of shards."""
    return disputes if isinstance(disputes, ShardedDisputes) else ShardedDisputes(shard_apps(disputes))


def index_of(disputes: Disputes, dispute_id: UUID) -> int:
    """The shard of a dispute, for either kind of store (0 for one application)."""
    return shard_index(dispute_id, len(shard_apps(disputes)))
