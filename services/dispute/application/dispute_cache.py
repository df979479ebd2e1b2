"""What a command writer remembers between batches: its latest disputes, and every party.

`DisputeCache` keeps the disputes the writer saved or loaded last (least recently used go
first), each with the hash its next event chains from, so a warm dispute costs no read
query. Other processes (a second API, the deadline worker, the Kafka consumers) may have
written a cached dispute since: the writer finds out when its write collides with their
version, or by asking the store before it answers without writing (application/batch.py).
Only the writer's own thread touches it.

`Parties` keeps who the buyer and seller of a dispute are (they never change): the check for
strangers reads them before the body of a command is read, from any thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable
from uuid import UUID

from services.dispute.domain import Dispute


@dataclass
class Cached:
    dispute: Dispute
    head: str | None  # the hash the next event chains from; None: not known yet


class DisputeCache:
    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[UUID, Cached] = OrderedDict()

    def get(self, dispute_id: UUID) -> Cached | None:
        entry = self._entries.get(dispute_id)
        if entry is not None:
            self._entries.move_to_end(dispute_id)
        return entry

    def put(self, dispute: Dispute, head: str | None) -> None:
        if self.size <= 0:
            return
        self._entries[dispute.id] = Cached(dispute, head)
        self._entries.move_to_end(dispute.id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, dispute_ids: Iterable[UUID]) -> None:
        for dispute_id in dispute_ids:
            self._entries.pop(dispute_id, None)

    def __len__(self) -> int:
        return len(self._entries)


class Parties:
    """(buyer id, seller id) per dispute, least recently used forgotten past `size`."""

    def __init__(self, size: int):
        self.size = size
        self._known: OrderedDict[UUID, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, dispute_id: UUID) -> tuple[str, str] | None:
        with self._lock:
            found = self._known.get(dispute_id)
            if found is not None:
                self._known.move_to_end(dispute_id)
            return found

    def note(self, dispute: Dispute) -> None:
        with self._lock:
            self._known[dispute.id] = (dispute.buyer_id, dispute.seller_id)
            self._known.move_to_end(dispute.id)
            while len(self._known) > self.size:
                self._known.popitem(last=False)
