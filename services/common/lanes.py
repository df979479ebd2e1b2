"""Handling Kafka records concurrently, as a continuous pipeline, without giving up what
one-at-a-time gave.

- Records of one key (one dispute) form a lane and are handled in their order; lanes overlap,
  at most `limit` records at a time (a bound on the database connections and provider calls).
- The consumer goes on fetching while lanes work: `take` queues a fetched batch and returns at
  once. When more than `backlog` records are taken and not finished, fetching pauses (the
  consumer's partitions are paused, so it keeps polling and stays in its group) and resumes
  as soon as records finish.
- A record whose handler fails is retried in its lane (after `retry_pause`), and the records
  behind it in that lane wait; other lanes go on.
- Per partition, the committed offset is the first unfinished record's (one past the last
  record taken when all finished): never past an unfinished record. Commits follow finished
  records (at most one in flight, every `commit_interval`), only for partitions the consumer
  still holds.
- A record `skip` says no handler would act on is finished as it is taken (never queued, nor
  parsed): it is committed with the records around it, in order, like any finished record.
- A record taken again (after a rebalance) while it is still in the pipeline, or finished, is
  not handled twice by this process; after a restart or a rebalance to another consumer,
  records past the committed offset are handled again, so handlers must be idempotent, as they
  had to be already.
- Nothing is committed while the group rebalances (`rebalance_listener()`, given to the
  subscriber): what finished is committed as the rebalance starts, the rest once the new
  assignment is in. The lanes commit from a task of their own, not from the poll loop, so a
  commit could land between the group's JoinGroup and SyncGroup with the previous generation,
  and aiokafka answers IllegalGeneration by forgetting its member id (the consumer then joins
  as a new member while the group waits for the old one's session to expire). A suspect, not a
  proven cause, of a stall seen once in `make bench`: the dispute API's order consumer out of
  its group for minutes, its commits failing with IllegalGeneration every few seconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition

DEFAULT_COMMIT_INTERVAL = 0.05
DEFAULT_RETRY_PAUSE = 0.1
"""Between a failed handling and its retry, on top of any pause the handler takes itself: no
hot loop when a handler fails at once (the broker away)."""
COMMIT_RETRY_PAUSE = 1.0
REVOCATION_COMMIT_TIMEOUT = 10.0
"""The commit of what finished as a rebalance starts may take this long, then is given up."""
"""After a failed commit: the next try (a broker away is not a hot loop)."""
log = structlog.get_logger("consumer")


@dataclass(frozen=True)
class ReceivedRecord:
    """One record of a batch, shaped like the single message a handler (and `dead_letter`)
    expects: `raw_message`, `body`, decoded `headers`."""

    raw_message: ConsumerRecord
    body: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, raw: ConsumerRecord) -> "ReceivedRecord":
        # leniently, as every broker's parser does (services/common/kafka.py): a header without a
        # value or not in UTF-8 must not lose the record
        headers = {name: (value or b"").decode("utf-8", "replace") for name, value in raw.headers or ()}
        return cls(raw, raw.value or b"", headers)

    @property
    def partition(self) -> TopicPartition:
        return TopicPartition(self.raw_message.topic, self.raw_message.partition)

    @property
    def offset(self) -> int:
        return self.raw_message.offset

    def lane(self) -> tuple:
        """Records of one key stay in order (a key lives on one partition); unkeyed records
        share their partition's lane, so they keep its order."""
        return (self.raw_message.topic, self.raw_message.partition, self.raw_message.key)


@dataclass
class PartitionProgress:
    """What this process took of one partition since it was assigned: offsets not finished
    yet, finished ones above the first unfinished, the first taken and one past the highest
    seen (None until one is; after a revocation only the records still being handled are
    known, so nothing is committed until a record is taken again)."""

    pending: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)
    first: int | None = None
    next: int | None = None
    pruned_at: int | None = None

    def position(self) -> int | None:
        """The offset to commit: the first unfinished record, else one past the last seen."""
        if self.next is None:
            return None
        return min(self.pending) if self.pending else self.next

    def take(self, offset: int) -> bool:
        """Whether this record is new: not in the pipeline, nor finished, nor below the
        first unfinished of those taken since the assignment."""
        position = self.position()
        known = offset in self.pending or offset in self.finished or (
            self.first is not None and position is not None and self.first <= offset < position)
        self.next = max(self.next or 0, offset + 1)
        if not known:
            self.pending.add(offset)
            self.first = offset if self.first is None else min(self.first, offset)
        return not known

    def finish(self, offset: int) -> None:
        self.pending.discard(offset)
        self.finished.add(offset)
        position = self.position()
        # pruned only when the position moved: behind a record being retried, every record
        # finishing (thousands of skipped ones) would otherwise copy the whole set again
        if position is not None and position != self.pruned_at:
            self.finished = {o for o in self.finished if o >= position}
            self.pruned_at = position


class LanedBatches:
    """Runs the records a consumer fetches through `handle`, in lanes, as they come (the
    module's rules). `limit`: records handled at once; `backlog`: records taken and not
    finished before fetching pauses; `on_failure(record, error)`: told of each failed try;
    `skip(raw)`: True for a record `handle` would certainly do nothing with (it must never be
    True for one it might act on or refuse for good reason)."""

    def __init__(self, handle: Callable[[ReceivedRecord], Awaitable[Any]], limit: int,
                 backlog: int | None = None,
                 on_failure: Callable[[ReceivedRecord, BaseException], None] = lambda r, e: None,
                 retry_pause: float = DEFAULT_RETRY_PAUSE,
                 commit_interval: float = DEFAULT_COMMIT_INTERVAL,
                 skip: Callable[[ConsumerRecord], bool] | None = None):
        self.handle, self.limit, self.skip = handle, limit, skip
        self.backlog = max(1, backlog if backlog is not None else 4 * limit)
        self.on_failure, self.retry_pause, self.commit_interval = on_failure, retry_pause, commit_interval
        self._reset()

    def _reset(self) -> None:
        self._consumer: Any = None
        self._slots = asyncio.Semaphore(max(1, self.limit))
        self._lanes: dict[Hashable, deque[ReceivedRecord]] = {}
        self._runners: dict[Hashable, asyncio.Task] = {}
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._committer: asyncio.Task | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._rebalancing = False

    # -- taking what the consumer fetched --------------------------------------------------
    async def take(self, consumer, raws: Iterable[ConsumerRecord]) -> None:
        """Queue a fetched batch in its lanes and return (handling goes on in the background).
        While stopping nothing is taken: it is not committed, so Kafka hands it again."""
        if self._stopping:
            return
        self._consumer = consumer
        self._forget_revoked(consumer.assignment())
        skipped = False
        for raw in raws:
            progress = self._progress.setdefault(TopicPartition(raw.topic, raw.partition),
                                                 PartitionProgress())
            if not progress.take(raw.offset):
                continue
            if self.skip is not None and self.skip(raw):
                progress.finish(raw.offset)
                skipped = True
            else:
                self._queue(ReceivedRecord.of(raw))
        self._pause_when_full()
        if skipped:
            self._commit_soon()

    async def run(self, consumer, raws: Iterable[ConsumerRecord]) -> None:
        """Take a batch and wait until everything taken is finished and committed."""
        await self.take(consumer, raws)
        await self.drain()

    async def drain(self) -> None:
        await self._idle.wait()
        await self._commit_now()

    async def stop(self, grace: float = 5.0) -> None:
        """Before the consumer stops: give the records being handled `grace` seconds, commit
        what finished, cancel the rest (they were not committed: Kafka hands them again)."""
        self._stopping = True
        runners = list(self._runners.values())
        if runners:
            await asyncio.wait(runners, timeout=grace)
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        if self._committer is not None:
            self._committer.cancel()
            await asyncio.gather(self._committer, return_exceptions=True)
        try:
            await self._commit_now()
        except Exception:  # the broker may be the reason for stopping: Kafka hands them again
            pass
        self._reset()
        # Still stopping: the consumer may deliver a batch while the broker stops after this,
        # and runners started then would pay under a publisher and client being closed.
        self._stopping = True

    def start(self) -> None:
        """Take batches again after `stop` (a reconnect: before the consumer starts)."""
        self._stopping = False
        self._rebalancing = False  # a revocation seen after `stop`: the new consumer joins anew

    def _queue(self, record: ReceivedRecord) -> None:
        self._idle.clear()
        lane = record.lane()
        self._lanes.setdefault(lane, deque()).append(record)
        if lane not in self._runners:
            self._runners[lane] = asyncio.create_task(self._drive(lane))

    # -- lanes ---------------------------------------------------------------------------------
    async def _drive(self, lane: Hashable) -> None:
        queue = self._lanes[lane]
        try:
            while queue:
                record = queue[0]
                if not await self._handle_until_done(record):
                    if not self._stopping:  # revoked: the partition's new owner handles them
                        self._give_up(queue)
                    break  # stopping: left unfinished (and uncommitted), for Kafka to hand again
                queue.popleft()
                self._finish(record)
        finally:
            self._runners.pop(lane, None)
            if not queue:
                self._lanes.pop(lane, None)
            if not self._runners:
                self._idle.set()

    async def _handle_until_done(self, record: ReceivedRecord) -> bool:
        """True once handled; False when, after a failure, its partition was revoked (its new
        owner handles it) or the lanes are stopping."""
        while True:
            try:
                async with self._slots:
                    await self.handle(record)
                return True
            except Exception as error:
                self.on_failure(record, error)
                await asyncio.sleep(self.retry_pause)
                if self._stopping or (self._consumer is not None
                                      and record.partition not in self._consumer.assignment()):
                    return False

    def _give_up(self, queue: deque[ReceivedRecord]) -> None:
        """A lane whose partition was revoked while its head failed: its records left to the
        partition's new owner, and what this process knew of every revoked partition forgotten
        at once, as the next batch would forget it. Not only these records dropped: the
        partition may come back before another batch is taken, and its old progress would then
        count these offsets as done (below its position) and commit past them unhandled."""
        queue.clear()
        if self._consumer is not None:
            self._forget_revoked(self._consumer.assignment())
        self._resume_when_room()

    def _finish(self, record: ReceivedRecord) -> None:
        progress = self._progress.get(record.partition)
        if progress is not None:
            progress.finish(record.offset)
        self._resume_when_room()
        self._commit_soon()

    # -- fetching paused while the backlog is full -----------------------------------------
    def _backlog(self) -> int:
        return sum(len(progress.pending) for progress in self._progress.values())

    def _pause_when_full(self) -> None:
        if self._backlog() >= self.backlog and self._consumer is not None:
            self._consumer.pause(*self._consumer.assignment())

    def _resume_when_room(self) -> None:
        consumer = self._consumer
        if consumer is not None and self._backlog() < self.backlog and consumer.paused():
            consumer.resume(*consumer.paused())

    # -- commits -----------------------------------------------------------------------------
    def _commit_soon(self) -> None:
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_after_interval())

    async def _commit_after_interval(self) -> None:
        """Until nothing is left to commit: records finishing while a commit is in flight are
        committed by the next round, even when no record finishes after them."""
        pause = self.commit_interval
        while True:
            await asyncio.sleep(pause)
            try:
                if not await self._commit_now():
                    return
                pause = self.commit_interval
            except Exception as error:
                # a rebalance or the broker away: tried again (what is assigned then), also when
                # no record finishes after it, so an idle partition's offsets do not stay behind
                log.info("lanes_commit_failed", error=repr(error)[:300])
                pause = max(self.commit_interval, COMMIT_RETRY_PAUSE)

    async def _commit_now(self, rebalancing_too: bool = False) -> bool:
        """Commit what moved since the last commit; whether there was anything (while the group
        rebalances, unless `rebalancing_too`: True, nothing sent, so the committer tries again
        after it)."""
        consumer = self._consumer
        if consumer is None:
            return False
        if self._rebalancing and not rebalancing_too:
            return True
        assigned = consumer.assignment()
        positions = {partition: position for partition, progress in self._progress.items()
                     if partition in assigned and (position := progress.position()) is not None
                     and self._committed.get(partition) != position}
        if positions:
            await consumer.commit(positions)
            self._committed.update(positions)
        return bool(positions)

    # -- rebalances ----------------------------------------------------------------------------
    def rebalance_listener(self) -> ConsumerRebalanceListener:
        """For the subscriber (`listener=`): tells the lanes when the group rebalances."""
        return _Rebalances(self)

    async def _rebalance_started(self) -> None:
        # Before the JoinGroup, still the group's generation (aiokafka commits here itself with
        # auto-commit): what finished is committed now, then nothing until the new assignment.
        # The committer is stopped first: one waking during this commit, or one retrying
        # inside aiokafka, would send its commit after the JoinGroup.
        self._rebalancing = True
        committer, self._committer = self._committer, None
        if committer is not None and not committer.done():
            committer.cancel()
            await asyncio.gather(committer, return_exceptions=True)
        try:
            # bounded: aiokafka retries a commit without a coordinator for as long as it takes,
            # and its close waits for this callback (a broker gone would hold the stop for ever)
            await asyncio.wait_for(self._commit_now(rebalancing_too=True), REVOCATION_COMMIT_TIMEOUT)
        except Exception as error:  # left for the next owner to hand again: duplicates only
            log.info("lanes_commit_before_rebalance_failed", error=repr(error)[:300])

    def _rebalance_ended(self, assigned) -> None:
        self._rebalancing = False
        if self._consumer is not None:
            self._forget_revoked(assigned)
            self._resume_when_room()
        self._commit_soon()

    def _forget_revoked(self, assigned) -> None:
        """A partition no longer held: its records not started are dropped (its new owner
        starts at the committed offset), those being handled finish; what was finished is
        forgotten, as the new owner may have moved on."""
        for partition in [p for p in self._progress if p not in assigned]:
            running = set()
            for queue in self._lanes.values():
                if queue and queue[0].partition == partition:
                    running.add(queue[0].offset)  # the lane's runner is handling its head
                    while len(queue) > 1:
                        queue.pop()
            self._progress[partition] = PartitionProgress(pending=running)
            self._committed.pop(partition, None)


class _Rebalances(ConsumerRebalanceListener):
    """aiokafka calls it in its group coordination, before the group's JoinGroup and after its
    SyncGroup (faststream wraps it with its own logging listener)."""

    def __init__(self, lanes: LanedBatches):
        self.lanes = lanes

    async def on_partitions_revoked(self, revoked) -> None:
        await self.lanes._rebalance_started()

    async def on_partitions_assigned(self, assigned) -> None:
        self.lanes._rebalance_ended(set(assigned))
