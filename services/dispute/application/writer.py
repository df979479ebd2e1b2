"""The command writer of one DisputeApplication: group commit for concurrent commands.

Callers `await writer.submit(submission)`. One thread per writer takes what has arrived (up
to `max_batch` commands, waiting at most `max_wait` after the first) and runs it as one
Batch (application/batch.py) in one transaction; while it commits, the next batch fills up.
Each caller is answered only after its batch committed, with what its own command gave:

- a refusal (DomainError) fails that command alone;
- a store failure fails the whole batch, and nothing of it is stored (the caller may retry,
  with the same Idempotency-Key);
- a write that collides (another process saved the same dispute version or the same key
  first, or the cache was behind) is run again as one batch on disputes loaded from the
  store, then one command at a time, each up to RACE_ATTEMPTS times on fresh loads: a key
  recorded meanwhile is replayed, and CONCURRENCY_CONFLICT is left only for a command whose
  client named a version that is no longer current (or that lost every attempt). Two API
  processes writing the same disputes keep meeting this way: a command that was valid stays
  valid on the newer dispute and must not be refused for the writer's stale copy.

Refund results from Kafka are submitted to the writer too (batched with the HTTP commands;
entrypoints/kafka_subscribers.py, alone through the application when their batch failed for
good); the order consumer and the deadline worker still call the application directly (other
paths, maybe other processes): the writer's cache stays correct beside them.
"""

from __future__ import annotations

import asyncio
import copy
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from sqlalchemy.exc import SQLAlchemyError

from services.dispute.adapters.idempotency_store import IdempotencyStore, KeyClaim, Recorded
from services.dispute.application.batch import (Answered, Batch, Failed, Outcome, Refused, Replay,
                                                Submission)
from services.dispute.application.commands import OpenDispute
from services.dispute.application.dispute_cache import Cached, DisputeCache, Parties
from services.dispute.application.disputes import DisputeApplication, second_dispute
from services.dispute.application.metrics import count_outcome
from services.dispute.domain import DomainError

log = structlog.get_logger("writer")
STORE_ERRORS = (PersistenceError, SQLAlchemyError)
STOP = object()
RACE_ATTEMPTS = 3  # fresh attempts of one command whose write keeps colliding


class KeyAlreadyUsed(Exception):
    """The Idempotency-Key was recorded already: replay `earlier` (or refuse another payload)."""

    def __init__(self, earlier: Any):
        super().__init__("idempotency key recorded already")
        self.earlier = earlier


@dataclass(frozen=True)
class WriterSettings:
    max_batch: int = 64
    max_wait: float = 0.002
    cache_size: int = 1_000
    parties_size: int = 100_000


@dataclass
class _Pending:
    submission: Submission
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    arrived: float = field(default_factory=time.monotonic)


class CommandWriter:
    def __init__(self, disputes: DisputeApplication, keys: IdempotencyStore,
                 settings: WriterSettings = WriterSettings()):
        self.disputes, self.keys, self.settings = disputes, keys, settings
        self.cache = DisputeCache(settings.cache_size)
        self.parties = Parties(settings.parties_size)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._in_flight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def submit(self, submission: Submission) -> Any:
        """The answer once its batch committed; raises the command's DomainError, the store's
        error, or KeyAlreadyUsed."""
        self._hold_key(submission.scope)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        try:
            self._start()
            self._queue.put(_Pending(submission, future, loop))
        except BaseException:
            self._release_key(submission.scope)
            raise
        outcome: Outcome = await future
        if isinstance(outcome, Answered):
            return outcome.value
        if isinstance(outcome, Replay):
            raise KeyAlreadyUsed(outcome.earlier)
        error = outcome.error
        raise (error if isinstance(outcome, Refused) else copy.copy(error))

    def parties_of(self, dispute_id: UUID) -> tuple[str, str]:
        """(buyer id, seller id), from memory once known (blocking on a miss: call in a thread)."""
        known = self.parties.get(dispute_id)
        if known is None:
            opened = self.disputes.get_dispute(dispute_id, version=1)
            self.parties.note(opened)
            known = opened.buyer_id, opened.seller_id
        return known

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(STOP)
            self._thread.join(timeout=10)
            self._thread = None

    def _hold_key(self, scope: tuple[str, str] | None) -> None:
        if scope is None:
            return
        with self._lock:
            if scope in self._in_flight:
                raise DomainError("a request with this Idempotency-Key is still being processed;"
                                  " retry", code="CONCURRENCY_CONFLICT")
            self._in_flight.add(scope)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="command-writer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                outcomes = self.run([p.submission for p in batch])
            except BaseException as error:  # never leave a caller waiting
                log.error("writer_batch_crashed", error=repr(error), exc_info=error)
                outcomes = [Failed(error)] * len(batch)
            self._answer_all(batch, outcomes)

    def _answer_all(self, batch: list[_Pending], outcomes: list[Outcome]) -> None:
        """Every caller of a batch settled, then answered: one callback per event loop. A
        settling that fails (its key release, a metric, the parties noted) is logged and the
        caller answered all the same: the answers wait for the whole batch's settling, so one
        failure must neither leave them all waiting nor end the writer's thread."""
        answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Outcome]]] = {}
        for pending, outcome in zip(batch, outcomes):
            try:
                self._settle(pending, outcome)
            except Exception as error:
                log.error("writer_settle_failed", error=repr(error), exc_info=error)
            answers.setdefault(pending.loop, []).append((pending.future, outcome))
        for loop, answered in answers.items():
            _answer(loop, answered)

    def _next_batch(self) -> list[_Pending] | None:
        first = self._queue.get()
        if first is STOP:
            return None
        batch, until = [first], first.arrived + self.settings.max_wait
        while len(batch) < self.settings.max_batch:
            left = until - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is STOP:
                self._queue.put(STOP)
                break
            batch.append(item)
        return batch

    def _release_key(self, scope: tuple[str, str] | None) -> None:
        if scope is not None:
            with self._lock:
                self._in_flight.discard(scope)

    def _settle(self, pending: _Pending, outcome: Outcome) -> None:
        self._release_key(pending.submission.scope)
        count_outcome(pending.submission.command, isinstance(outcome, Answered),
                      outcome.error.code if isinstance(outcome, Refused) else None,
                      replayed=isinstance(outcome, Replay))
        if isinstance(outcome, Answered):
            self._note_parties(pending.submission)

    def _note_parties(self, submission: Submission) -> None:
        if self.parties.get(submission.dispute_id) is None:
            entry = self.cache.get(submission.dispute_id)
            if entry is not None:
                self.parties.note(entry.dispute)

    def run(self, submissions: list[Submission]) -> list[Outcome]:
        """The outcome of each command of one batch, in order (in the writer's thread)."""
        cached = {s.dispute_id: entry for s in submissions
                  if (entry := self.cache.get(s.dispute_id)) is not None}
        try:
            earlier, newer = self._look_up([s.key for s in submissions if s.key is not None], cached)
        except STORE_ERRORS as error:
            return [Failed(error)] * len(submissions)
        self._catch_up(cached, newer)
        outcomes: dict[int, Outcome] = {i: Replay(earlier[s.scope]) for i, s in enumerate(submissions)
                                        if s.scope in earlier}
        todo = [(i, s) for i, s in enumerate(submissions) if i not in outcomes]
        outcomes.update(zip((i for i, _ in todo), self._together([s for _, s in todo])))
        return [outcomes[i] for i in range(len(submissions))]

    def _look_up(self, claims: list[KeyClaim], cached: dict[UUID, Cached]
                 ) -> tuple[dict[tuple[str, str], Recorded], dict[UUID, list[StoredEvent]]]:
        """What a batch reads before it runs: the live rows of its keys, and the events another
        API process (or a consumer, the deadline worker) stored after its cached disputes. One
        connection and one round trip where the recorder can (PostgreSQL), else two queries."""
        known = {dispute_id: entry.dispute.version for dispute_id, entry in cached.items()}
        recorder = self.disputes.recorder
        together = getattr(recorder, "select_keys_and_newer", None)  # keyed PostgreSQL recorder
        if together is not None:
            rows, newer = together([(c.principal, c.key) for c in claims], known)
            return self.keys.live(rows, claims), newer
        select_newer = getattr(recorder, "select_newer", None)  # keyed SQLite recorder
        earlier = self.keys.earlier(claims)
        return earlier, (select_newer(known) if known and select_newer is not None else {})

    def _together(self, submissions: list[Submission]) -> list[Outcome]:
        """All in one transaction (from the cache, caught up; again from the store if the
        cache was behind); one at a time when a write collides or a command breaks."""
        for fresh in (False, True):
            batch = Batch(self.disputes, self.cache, fresh=fresh)
            try:
                outcomes = [batch.run(s) for s in submissions]
                if not fresh and batch.stale():
                    self.cache.forget(batch.working)
                    continue
                batch.commit()
            except IntegrityError:
                self.cache.forget(batch.working)
                log.info("writer_batch_collided", commands=len(submissions), fresh=fresh)
                if fresh:
                    break
                continue  # again as one batch, every dispute from the store
            except STORE_ERRORS as error:
                self.cache.forget(batch.working)
                log.warning("writer_batch_failed", commands=len(submissions), error=repr(error)[:300])
                return [Failed(error)] * len(submissions)
            except Exception as error:
                self.cache.forget(batch.working)
                log.error("writer_batch_broke", error=repr(error)[:300], exc_info=error)
                break
            batch.remember()
            return outcomes
        return [self._alone(s) for s in submissions]

    def _catch_up(self, cached: dict[UUID, Cached], newer: dict[UUID, list[StoredEvent]]) -> None:
        """The cached disputes of a batch brought up to what the store holds (`_look_up` read
        their newer events): the events are applied to the cached dispute (as a reload would,
        without reading and replaying the whole stream again), and the head of the chain is
        the last one's."""
        for dispute_id, stored in newer.items():
            dispute = cached[dispute_id].dispute
            try:
                for event in stored:
                    dispute = self.disputes.mapper.to_domain_event(event).mutate(dispute)
            except Exception as error:  # a stream this copy cannot follow: load it whole
                log.warning("writer_catch_up_failed", dispute_id=str(dispute_id), error=repr(error)[:200])
                self.cache.forget([dispute_id])
                continue
            head, key_id = self.disputes.mapper.stored_link(stored[-1])
            self.cache.put(dispute, head if key_id is not None else None)

    def _alone(self, submission: Submission) -> Outcome:
        for _ in range(RACE_ATTEMPTS):
            batch = Batch(self.disputes, self.cache, fresh=True)
            try:
                outcome = batch.run(submission)
                batch.commit()
            except IntegrityError:
                self.cache.forget(batch.working)
                settled = self._race_settled(submission)
                if settled is not None:
                    return settled
                continue  # another change to the dispute came first: decide again on it
            except Exception as error:
                self.cache.forget(batch.working)
                return Failed(error)
            batch.remember()
            return outcome
        return self._lost_race(submission)

    def _race_settled(self, submission: Submission) -> Outcome | None:
        """What a lost race already decided: the key recorded by the winner (replay), or the
        dispute opened by another (a second dispute); None: try again."""
        if submission.key is not None:
            earlier = self.keys.earlier([submission.key])
            if submission.scope in earlier:
                return Replay(earlier[submission.scope])
        if isinstance(submission.command, OpenDispute):
            try:
                return Refused(second_dispute(self.disputes.get_dispute(submission.dispute_id)))
            except DomainError:
                pass
        return None

    def _lost_race(self, submission: Submission) -> Outcome:
        """Every attempt collided with another writer's save of this dispute or key."""
        settled = self._race_settled(submission)
        if settled is not None:
            return settled
        return Refused(DomainError("another change to this dispute was saved first; retry",
                                   code="CONCURRENCY_CONFLICT"))


def _answer(loop: asyncio.AbstractEventLoop, answered: list[tuple[asyncio.Future, Outcome]]) -> None:
    """A batch's callers on one event loop answered by one callback: each
    call_soon_threadsafe wakes the loop through a write to its self-pipe (a system call, and a
    wake-up of the loop, per command of the batch before)."""
    try:
        loop.call_soon_threadsafe(_resolve_all, answered)
    except RuntimeError:  # the callers' loop is gone (shutdown): nobody to answer
        pass


def _resolve_all(answered: list[tuple[asyncio.Future, Outcome]]) -> None:
    for future, outcome in answered:
        if not future.done():
            future.set_result(outcome)
