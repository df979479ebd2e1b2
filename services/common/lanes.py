"""Handling a batch of Kafka records concurrently without giving up what one-at-a-time gave.

- Records of one key (one dispute) form a lane and are handled in their order; lanes overlap,
  at most `limit` records at a time (a bound on the database connections and provider calls).
- A lane stops at its first failure: the records after it in that lane are not handled now.
- Per partition, the committed offset is the contiguous prefix of finished records: the first
  unfinished record's offset (one past the last record when all finished), and the partition
  is rewound to it, so Kafka hands that record again. An unfinished record is never skipped;
  a record finished beyond it is handled again only after a restart or a rebalance (this
  process remembers it), so handlers must be idempotent, as they had to be already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord, TopicPartition

R = TypeVar("R")


@dataclass
class LaneOutcome(Generic[R]):
    """Which records finished (indexes into the batch), and the failure that stopped each
    stopped lane."""

    finished: set[int] = field(default_factory=set)
    failures: list[tuple[R, BaseException]] = field(default_factory=list)


async def run_in_lanes(records: Sequence[R], key_of: Callable[[R], Hashable],
                       handle: Callable[[R], Awaitable[Any]], limit: int) -> LaneOutcome[R]:
    """Handle every record once (see the module's rules); a handler's error is returned in
    the outcome, never raised (cancellation still propagates)."""
    lanes: dict[Hashable, list[int]] = {}
    for index, record in enumerate(records):
        lanes.setdefault(key_of(record), []).append(index)
    outcome: LaneOutcome[R] = LaneOutcome()
    slots = asyncio.Semaphore(max(1, limit))

    async def drive(lane: list[int]) -> None:
        for index in lane:
            try:
                async with slots:
                    await handle(records[index])
            except Exception as error:
                outcome.failures.append((records[index], error))
                return
            outcome.finished.add(index)

    await asyncio.gather(*(drive(lane) for lane in lanes.values()))
    return outcome


def commit_positions(records: Iterable[R], finished: set[int],
                     partition_of: Callable[[R], Hashable],
                     offset_of: Callable[[R], int]) -> dict[Hashable, tuple[int, bool]]:
    """Per partition: (the offset to commit, whether every record of it finished)."""
    positions: dict[Hashable, tuple[int, bool]] = {}
    for index, record in sorted(enumerate(records), key=lambda item: offset_of(item[1])):
        partition = partition_of(record)
        if partition in positions and not positions[partition][1]:
            continue  # stopped at an unfinished record already
        done = index in finished
        positions[partition] = (offset_of(record) + 1 if done else offset_of(record), done)
    return positions


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


class LanedBatches:
    """Runs each batch a consumer fetched through `handle`, in lanes, then commits and rewinds
    (the module's rules). `limit`: records handled at once."""

    def __init__(self, handle: Callable[[ReceivedRecord], Awaitable[Any]], limit: int):
        self.handle, self.limit = handle, limit
        self._finished_ahead: set[tuple[TopicPartition, int]] = set()

    async def run(self, consumer, raws: Iterable[ConsumerRecord]) -> LaneOutcome[ReceivedRecord]:
        records = [ReceivedRecord.of(raw) for raw in raws]
        ahead = {index for index, r in enumerate(records) if (r.partition, r.offset) in self._finished_ahead}
        todo = [index for index in range(len(records)) if index not in ahead]
        outcome = await run_in_lanes([records[i] for i in todo], ReceivedRecord.lane, self.handle, self.limit)
        finished = ahead | {todo[i] for i in outcome.finished}
        positions = commit_positions(records, finished, lambda r: r.partition, lambda r: r.offset)
        # Only partitions this consumer still holds: a rebalance during a long batch may have
        # revoked some, and seeking or committing one raises (IllegalStateError) before the
        # others were rewound, letting a held partition read past its unfinished record. A
        # revoked partition's new owner starts at its last committed offset.
        assigned = consumer.assignment()
        held = {partition: position for partition, position in positions.items() if partition in assigned}
        for partition, (offset, done) in held.items():
            if not done:  # first, so a failed commit cannot let the consumer read past it
                consumer.seek(partition, offset)
        self._remember_ahead(records, finished, held, assigned)
        if held:
            await consumer.commit({partition: offset for partition, (offset, _) in held.items()})
        return outcome

    def _remember_ahead(self, records: list[ReceivedRecord], finished: set[int],
                        positions: dict[Hashable, tuple[int, bool]], assigned) -> None:
        """Finished records past a partition's commit point come again after the rewind: keep
        them (and only them, of partitions still held) so they are not handled twice by this
        process."""
        remembered = self._finished_ahead | {(records[i].partition, records[i].offset) for i in finished}
        self._finished_ahead = {(p, o) for p, o in remembered
                                if p in assigned and (p not in positions or o >= positions[p][0])}
