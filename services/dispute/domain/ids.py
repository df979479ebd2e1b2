"""Dispute ids: one per (order, item), and not computable from public data.

A new dispute's id is an HMAC-SHA256 of its order and item under a server key, so the store
still refuses a second dispute on the same item (same id), while nobody without the key can
compute an id and probe it. Disputes opened before keyed ids kept their `uuid5(order, item)`
id (`former_dispute_id`): they still load under it, and it is still checked before opening.
The key comes in from the application's settings; nothing here reads it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from uuid import NAMESPACE_URL, UUID, uuid5


def keyed_dispute_id(key: bytes, order_id: str, item_id: str) -> UUID:
    """A UUID (version 8, RFC 9562 "custom") from the first 128 bits of the HMAC."""
    message = json.dumps([order_id, item_id], separators=(",", ":")).encode()
    value = int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:16], "big")
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return UUID(int=value)


def former_dispute_id(order_id: str, item_id: str) -> UUID:
    """The id disputes were opened with before ids were keyed (anyone could compute it)."""
    return uuid5(NAMESPACE_URL, f"urn:dispute:{order_id}:{item_id}")


@dataclass(frozen=True)
class DisputeIds:
    """The ids an item's dispute may have: the keyed one for a new dispute, and the former one
    a dispute opened before keyed ids still carries."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("the dispute id key must not be empty")

    def for_new_dispute(self, order_id: str, item_id: str) -> UUID:
        return keyed_dispute_id(self.key, order_id, item_id)

    def for_item(self, order_id: str, item_id: str) -> tuple[UUID, UUID]:
        """Every id the item's dispute may exist under, the current one first."""
        return self.for_new_dispute(order_id, item_id), former_dispute_id(order_id, item_id)
