"""Concurrent handling of a batch (services/common/lanes.py): one dispute's records in order,
different disputes overlapping, bounded; offsets committed only up to the first unfinished
record of each partition, which is handed again; finished records are not handled twice."""

import asyncio

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError

from services.common.lanes import LanedBatches, commit_positions, run_in_lanes


def record(offset: int, key: bytes | None, partition: int = 0, topic: str = "t") -> ConsumerRecord:
    return ConsumerRecord(topic=topic, partition=partition, offset=offset, timestamp=0,
                          timestamp_type=0, key=key, value=f"{key!r}-{offset}".encode(),
                          checksum=None, serialized_key_size=0, serialized_value_size=0,
                          headers=[("event-id", f"e-{offset}".encode())])


class Consumer:
    """What LanedBatches needs of aiokafka's consumer: assignment(), commit(offsets) and seek,
    which, as aiokafka's do, refuse a partition no longer assigned."""

    def __init__(self, partitions=(0, 1)):
        self.commits: list[dict] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.assigned = {TopicPartition("t", p) for p in partitions}

    def assignment(self):
        return set(self.assigned)

    async def commit(self, offsets):
        if set(offsets) - self.assigned:
            raise IllegalStateError("Partitions not assigned")
        self.commits.append(dict(offsets))

    def seek(self, partition, offset):
        if partition not in self.assigned:
            raise IllegalStateError("No current assignment for partition")
        self.seeks.append((partition, offset))


async def test_records_of_one_key_are_handled_in_order_while_other_keys_overlap():
    started: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}
    seen: list[tuple[str, int]] = []

    async def handle(item: tuple[str, int]) -> None:
        key, n = item
        seen.append(item)
        if n == 0:  # each lane's first record waits until the other lane has started:
            started[key].set()  # sequential handling would never get past this
            await started["b" if key == "a" else "a"].wait()

    items = [("a", 0), ("a", 1), ("b", 0), ("a", 2), ("b", 1)]
    outcome = await asyncio.wait_for(run_in_lanes(items, lambda i: i[0], handle, limit=4), 10)
    assert [n for k, n in seen if k == "a"] == [0, 1, 2] and [n for k, n in seen if k == "b"] == [0, 1]
    assert outcome.finished == {0, 1, 2, 3, 4} and outcome.failures == []


async def test_no_more_records_than_the_limit_are_handled_at_once():
    running, most = 0, 0

    async def handle(item: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1

    await run_in_lanes(list(range(20)), lambda i: i, handle, limit=3)
    assert most == 3


async def test_a_failure_stops_its_lane_only():
    handled: list[str] = []

    async def handle(item: str) -> None:
        if item == "a1":
            raise ConnectionError("store away")
        handled.append(item)

    outcome = await run_in_lanes(["a0", "a1", "b0", "a2", "b1"], lambda i: i[0], handle, limit=8)
    assert sorted(handled) == ["a0", "b0", "b1"]  # a2 waits behind a1
    assert [(item, type(error)) for item, error in outcome.failures] == [("a1", ConnectionError)]


def test_the_committed_offset_is_the_first_unfinished_record_of_each_partition():
    records = [(0, 10), (0, 11), (1, 5), (0, 12), (1, 6)]  # (partition, offset)
    positions = commit_positions(records, finished={0, 2, 3, 4}, partition_of=lambda r: r[0],
                                 offset_of=lambda r: r[1])
    assert positions == {0: (11, False), 1: (7, True)}  # 12 finished, but 11 did not


async def test_a_batch_commits_its_finished_prefix_rewinds_to_the_unfinished_and_never_handles_twice():
    store_up = False
    handled: list[tuple[int, int]] = []

    async def handle(r) -> None:
        if r.raw_message.key == b"A" and r.offset == 1 and not store_up:
            raise ConnectionError("store away")
        handled.append((r.raw_message.partition, r.offset))

    batch = [record(0, b"A"), record(1, b"A"), record(2, b"B"), record(3, b"A"),
             record(0, b"C", partition=1)]
    consumer, batches = Consumer(), LanedBatches(handle, limit=4)
    outcome = await batches.run(consumer, batch)
    p0, p1 = TopicPartition("t", 0), TopicPartition("t", 1)
    assert consumer.commits == [{p0: 1, p1: 1}] and consumer.seeks == [(p0, 1)]
    assert sorted(handled) == [(0, 0), (0, 2), (1, 0)] and len(outcome.failures) == 1

    store_up = True  # Kafka hands partition 0 again from offset 1: 1, 2, 3 (2 finished already)
    await batches.run(consumer, [record(1, b"A"), record(2, b"B"), record(3, b"A")])
    assert sorted(handled) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]  # each once
    assert consumer.commits[-1] == {p0: 4} and consumer.seeks == [(p0, 1)]


async def test_each_record_is_handed_with_its_decoded_headers_and_body():
    got = []

    async def handle(r) -> None:
        got.append((r.body, r.headers))

    await LanedBatches(handle, limit=1).run(Consumer(), [record(7, b"K")])
    assert got == [(b"b'K'-7", {"event-id": "e-7"})]


async def test_a_partition_revoked_during_the_batch_does_not_stop_the_others_being_rewound():
    """A rebalance while a long batch runs: partition 0 was revoked (its new owner starts at
    the committed offset), partition 1 is still held and has an unfinished record; it must be
    rewound and committed only up to that record, and 0 left alone."""
    consumer = Consumer()

    async def handle(r) -> None:
        if r.raw_message.partition == 0:
            consumer.assigned.discard(TopicPartition("t", 0))  # revoked meanwhile
            raise ConnectionError("store away")
        if r.offset == 1:
            raise ConnectionError("store away")

    batch = [record(0, b"A"), record(0, b"B", partition=1), record(1, b"B", partition=1),
             record(2, b"B", partition=1)]
    await LanedBatches(handle, limit=4).run(consumer, batch)
    p1 = TopicPartition("t", 1)
    assert consumer.seeks == [(p1, 1)] and consumer.commits == [{p1: 1}]
