"""One batch of commands: run in memory in arrival order, then stored in ONE transaction.

Each command runs as `use_cases.run` would (party check, expected version, due deadlines,
the command) on the batch's copy of its dispute, so a second command on a dispute sees the
first one's result. Its events become stored events right away, under its own correlation
and causation ids and chained to the previous event of the dispute; a refusal keeps the
deadlines that fired before it. `commit` then writes every event, and the answers kept for
Idempotency-Keys, in one `insert_events`: one table lock, one NOTIFY, one flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Callable, Generic, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from services.dispute.adapters.audit_chain import GENESIS
from services.dispute.adapters.event_store import command_context, hash_chain
from services.dispute.adapters.idempotency_store import KeyClaim, KeyRecord, Recorded
from services.dispute.application.commands import Acting, Command, OpenDispute
from services.dispute.application.dispute_cache import DisputeCache
from services.dispute.application.disputes import DisputeApplication
from services.dispute.domain import Dispute, DomainError

A = TypeVar("A")
# What a key keeps of an answer: status code, media type, headers, body.
Kept = tuple[int, str, dict[str, str], str]


@dataclass(frozen=True)
class Submission(Generic[A]):
    """One command for the writer. `answer` turns the dispute right after the command into
    what the caller gets (built in the writer's thread, before the next command changes the
    dispute); `kept` is what `key` keeps of that answer for a retry."""

    dispute_id: UUID
    command: Command | OpenDispute
    by: Acting
    answer: Callable[[Dispute], A]
    expected_version: int | None = None
    deadlines_at: datetime | None = None
    key: KeyClaim | None = None
    kept: Callable[[A], Kept] | None = None

    @property
    def scope(self) -> tuple[str, str] | None:
        return None if self.key is None else (self.key.principal, self.key.key)


@dataclass(frozen=True)
class Answered:
    value: Any


@dataclass(frozen=True)
class Refused:
    error: DomainError


@dataclass(frozen=True)
class Replay:
    """The key was recorded already (by an earlier request, maybe in another process)."""

    earlier: Recorded


@dataclass(frozen=True)
class Failed:
    error: BaseException


Outcome = Answered | Refused | Replay | Failed


class Batch:
    """`fresh`: load every dispute from the store, ignoring the cache."""

    def __init__(self, disputes: DisputeApplication, cache: DisputeCache, fresh: bool = False):
        self.disputes, self.cache, self.fresh = disputes, cache, fresh
        self.working: dict[UUID, Dispute] = {}
        self.from_cache: dict[UUID, int] = {}  # dispute id -> its version in the cache
        self.heads: dict[UUID, str] = {}
        self.stored: list[StoredEvent] = []
        self.keys: list[KeyRecord] = []

    def run(self, submission: Submission) -> Outcome:
        by = submission.by
        with command_context(by.correlation_id, by.causation_id):
            try:
                dispute = self._open(submission) if isinstance(submission.command, OpenDispute) \
                    else self._change(submission)
            except DomainError as error:
                self._collect(submission.dispute_id)
                return Refused(error)
            self._collect(dispute.id)
        value = submission.answer(dispute)
        if submission.key is not None and submission.kept is not None:
            self.keys.append(KeyRecord(submission.key.principal, submission.key.key,
                                       submission.key.fingerprint, submission.key.at,
                                       *submission.kept(value)))
        return Answered(value)

    def stale(self) -> bool:
        """Whether a dispute taken from the cache and not written by this batch (nothing would
        collide with a newer version) has changed in the store since: its answers may be wrong."""
        return any(self.working[dispute_id].version == version
                   and self.disputes.recorder.select_events(dispute_id, gt=version, limit=1)
                   for dispute_id, version in self.from_cache.items())

    def commit(self) -> None:
        if self.stored or self.keys:
            self.disputes.recorder.insert_events(self.stored, idempotency=self.keys)

    def remember(self) -> None:
        """After the commit: the batch's disputes as they now stand, for the next batches."""
        for dispute_id, dispute in self.working.items():
            self.cache.put(dispute, self.heads.get(dispute_id))

    def _change(self, submission: Submission) -> Dispute:
        dispute = self._dispute(submission.dispute_id, submission.expected_version)
        self.disputes.check_may_change(dispute, submission.expected_version, submission.by.actor)
        command = partial(submission.command.apply_to, by=submission.by,  # type: ignore[union-attr]
                          policy=self.disputes.policy)
        self.disputes.decide(dispute, submission.deadlines_at or submission.by.at, command)
        return dispute

    def _open(self, submission: Submission) -> Dispute:
        command, by = submission.command, submission.by
        assert isinstance(command, OpenDispute)
        known = self.working.get(submission.dispute_id) or self._cached(submission.dispute_id)
        dispute = self.disputes.new_dispute(
            order=command.order, item_id=command.item_id, actor=by.actor, reason=command.reason,
            request=command.request, request_amount=command.request_amount,
            description=command.description, at=by.at, known=known)
        self.working[dispute.id], self.heads[dispute.id] = dispute, GENESIS
        return dispute

    def _dispute(self, dispute_id: UUID, expected_version: int | None) -> Dispute:
        """The batch's copy; from the cache unless the caller names a version past the cached
        one (then the cache is behind: load)."""
        if dispute_id in self.working:
            return self.working[dispute_id]
        cached = self._cached(dispute_id)
        if cached is not None and (expected_version or 0) <= cached.version:
            return cached
        dispute = self.disputes.get_dispute(dispute_id)
        self.working[dispute_id] = dispute
        self.from_cache.pop(dispute_id, None)
        self.heads.pop(dispute_id, None)
        return dispute

    def _cached(self, dispute_id: UUID) -> Dispute | None:
        entry = None if self.fresh else self.cache.get(dispute_id)
        if entry is None:
            return None
        self.working[dispute_id] = entry.dispute
        self.from_cache[dispute_id] = entry.dispute.version
        if entry.head is not None:
            self.heads[dispute_id] = entry.head
        return entry.dispute

    def _collect(self, dispute_id: UUID) -> None:
        """The dispute's new events as stored events, under the current command's context."""
        dispute = self.working.get(dispute_id)
        events = dispute.collect_events() if dispute is not None else []
        if not events:
            return
        if dispute_id not in self.heads:
            self.heads[dispute_id] = self.disputes.chain_head(dispute_id, events[0].originator_version)
        with hash_chain(self.heads, self.disputes.chain_keys):
            self.stored.extend(self.disputes.mapper.to_stored_event(event) for event in events)
