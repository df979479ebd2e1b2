"""Signed checkpoints of the chain heads, kept outside the event store (topic `disputes.audit`).

After each batch it publishes, the relay publishes one checkpoint: for every dispute the batch
touched, its last version and hash, signed (HMAC-SHA256) with the audit key. A checkpoint says
"the store held at least this": audit verify compares the store with the highest checkpointed
version of each dispute, so a deleted tail, a deleted dispute or a rewritten last event shows.
Replaying an old checkpoint proves nothing new (the highest version wins), and one forged
without the key is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Iterator
from uuid import UUID

from services.dispute.adapters.audit_chain import ChainKeys, UnknownKey, canonical

KIND = "AuditCheckpoint"
DOMAIN = b"dispute-audit-checkpoint:"


class BadCheckpoint(ValueError):
    """A checkpoint that cannot be trusted: unreadable, or its signature does not match."""


@dataclass(frozen=True)
class Head:
    dispute_id: UUID
    version: int
    hash: str | None


@dataclass(frozen=True)
class Checkpoint:
    position: int  # notification id of the last stored event it covers
    at: datetime
    heads: tuple[Head, ...]


def heads_of(links: Iterable[tuple[UUID, int, str | None]]) -> tuple[Head, ...]:
    """The last (version, hash) of each dispute among stored events given in log order."""
    last: dict[UUID, Head] = {}
    for dispute_id, version, hash_ in links:
        last[dispute_id] = Head(dispute_id, version, hash_)
    return tuple(last.values())


def signed_record(checkpoint: Checkpoint, keys: ChainKeys) -> bytes:
    body = {"kind": KIND, "position": checkpoint.position, "at": checkpoint.at.isoformat(),
            "heads": [[str(h.dispute_id), h.version, h.hash] for h in checkpoint.heads],
            "key_id": keys.key_id}
    return json.dumps({**body, "signature": keys.sign(DOMAIN + canonical(body))}).encode()


def parse_record(value: bytes, keys: ChainKeys) -> Checkpoint:
    try:
        body = json.loads(value)
        signature, key_id = body.pop("signature"), body["key_id"]
        trusted = keys.matches(DOMAIN + canonical(body), signature, key_id)
    except UnknownKey as error:
        raise BadCheckpoint(f"signed with an unknown key id {error}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadCheckpoint(f"unreadable ({type(error).__name__})") from None
    if not trusted or body.get("kind") != KIND:
        raise BadCheckpoint("its signature does not match: forged or altered")
    heads = tuple(Head(UUID(d), int(v), h) for d, v, h in body["heads"])
    return Checkpoint(int(body["position"]), datetime.fromisoformat(body["at"]), heads)


@dataclass(frozen=True)
class Recorded:
    """The highest version a checkpoint recorded for one dispute, and where it was recorded."""
    version: int
    hash: str | None
    position: int
    at: datetime


@dataclass(frozen=True)
class CheckpointProblem:
    where: str  # e.g. "disputes.audit[0]@12"
    problem: str


class CheckpointBook:
    """The highest checkpointed head of each dispute, and the checkpoints that were refused."""

    def __init__(self) -> None:
        self.recorded: dict[UUID, Recorded] = {}
        self.refused: list[CheckpointProblem] = []
        self.read = 0

    def add(self, value: bytes, keys: ChainKeys, where: str) -> None:
        self.read += 1
        try:
            checkpoint = parse_record(value, keys)
        except BadCheckpoint as error:
            self.refused.append(CheckpointProblem(where, str(error)))
            return
        for head in checkpoint.heads:
            known = self.recorded.get(head.dispute_id)
            if known is None or head.version > known.version:
                self.recorded[head.dispute_id] = Recorded(head.version, head.hash,
                                                          checkpoint.position, checkpoint.at)

    def restricted(self, holds: Callable[[UUID], bool], with_refused: bool) -> "CheckpointBook":
        """The heads of the disputes `holds` keeps (one shard's); the refused checkpoints and
        the count read only `with_refused` (they belong to no shard: reported once)."""
        book = CheckpointBook()
        book.recorded = {d: r for d, r in self.recorded.items() if holds(d)}
        if with_refused:
            book.refused, book.read = list(self.refused), self.read
        return book

    def add_lines(self, lines: Iterator[str], keys: ChainKeys, source: str) -> "CheckpointBook":
        for number, line in enumerate(lines, 1):
            if line.strip():
                self.add(line.encode(), keys, f"{source}:{number}")
        return self
