"""Concurrent handling of consumed records as a continuous pipeline (services/common/lanes.py):
one dispute's records in order, different disputes overlapping, bounded; the next batch taken
while earlier records are still handled; offsets committed only up to the first unfinished
record of each partition; a failed record retried in its lane; finished records not handled
twice; partitions no longer held neither committed nor retried."""

import asyncio

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError

from services.common.lanes import LanedBatches, PartitionProgress

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def record(offset: int, key: bytes | None, partition: int = 0, topic: str = "t") -> ConsumerRecord:
    return ConsumerRecord(topic=topic, partition=partition, offset=offset, timestamp=0,
                          timestamp_type=0, key=key, value=f"{key!r}-{offset}".encode(),
                          checksum=None, serialized_key_size=0, serialized_value_size=0,
                          headers=[("event-id", f"e-{offset}".encode())])


class Consumer:
    """What LanedBatches needs of aiokafka's consumer: assignment(), commit(offsets), pause,
    resume and paused; commit refuses a partition no longer assigned, as aiokafka's does."""

    def __init__(self, partitions=(0, 1)):
        self.commits: list[dict] = []
        self.assigned = {TopicPartition("t", p) for p in partitions}
        self.paused_partitions: set[TopicPartition] = set()
        self.pauses = 0

    def assignment(self):
        return set(self.assigned)

    async def commit(self, offsets):
        if set(offsets) - self.assigned:
            raise IllegalStateError("Partitions not assigned")
        self.commits.append(dict(offsets))

    def pause(self, *partitions):
        self.pauses += 1
        self.paused_partitions |= set(partitions)

    def resume(self, *partitions):
        self.paused_partitions -= set(partitions)

    def paused(self):
        return set(self.paused_partitions)

    def committed(self) -> dict:
        merged: dict = {}
        for commit in self.commits:
            merged.update(commit)
        return merged


def lanes(handle, limit: int = 4, **options) -> LanedBatches:
    return LanedBatches(handle, limit, retry_pause=0, commit_interval=0, **options)


async def test_records_of_one_key_are_handled_in_order_while_other_keys_overlap():
    started = {b"a": asyncio.Event(), b"b": asyncio.Event()}
    seen: list[tuple[bytes, int]] = []

    async def handle(r) -> None:
        key = r.raw_message.key
        seen.append((key, r.offset))
        if r.offset in (0, 2):  # each lane's first record waits until the other lane has started:
            started[key].set()  # sequential handling would never get past this
            await started[b"b" if key == b"a" else b"a"].wait()

    batch = [record(0, b"a"), record(1, b"a"), record(2, b"b"), record(3, b"a"), record(4, b"b")]
    await asyncio.wait_for(lanes(handle).run(Consumer(), batch), 10)
    assert [o for k, o in seen if k == b"a"] == [0, 1, 3] and [o for k, o in seen if k == b"b"] == [2, 4]


async def test_no_more_records_than_the_limit_are_handled_at_once():
    running, most = 0, 0

    async def handle(r) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1

    await lanes(handle, limit=3).run(Consumer(), [record(n, bytes([n])) for n in range(20)])
    assert most == 3


async def test_the_next_batch_is_taken_and_committed_while_a_slow_record_is_still_handled():
    slow_may_end = asyncio.Event()
    handled: list[int] = []

    async def handle(r) -> None:
        if r.raw_message.key == b"slow":
            await slow_may_end.wait()
        handled.append(r.offset)

    consumer, pipeline = Consumer(), lanes(handle)
    await pipeline.take(consumer, [record(0, b"slow"), record(0, b"B", partition=1)])
    await pipeline.take(consumer, [record(1, b"C"), record(1, b"D", partition=1)])  # returns at once
    await asyncio.sleep(0.05)
    assert sorted(handled) == [0, 1, 1]  # both batches handled but the slow record
    assert consumer.committed() == {P0: 0, P1: 2}  # partition 0 stops at its unfinished record
    slow_may_end.set()
    await pipeline.drain()
    assert consumer.committed() == {P0: 2, P1: 2}


async def test_a_failed_record_is_retried_in_its_lane_and_the_records_behind_it_wait():
    failures, handled = [], []

    async def handle(r) -> None:
        if (r.raw_message.key, r.offset) == (b"A", 1) and len(failures) < 3:
            raise ConnectionError("store away")
        handled.append((r.raw_message.key, r.offset))

    pipeline = lanes(handle, on_failure=lambda r, e: failures.append((r.offset, type(e))))
    consumer = Consumer()
    await pipeline.run(consumer, [record(0, b"A"), record(1, b"A"), record(2, b"B"), record(3, b"A")])
    assert failures == [(1, ConnectionError)] * 3
    assert [o for k, o in handled if k == b"A"] == [0, 1, 3] and (b"B", 2) in handled
    assert consumer.committed() == {P0: 4}


async def test_nothing_is_committed_past_a_record_that_keeps_failing():
    async def handle(r) -> None:
        if r.offset == 1:
            raise ConnectionError("store away")

    consumer, pipeline = Consumer(), lanes(handle)
    await pipeline.take(consumer, [record(0, b"A"), record(1, b"B"), record(2, b"C")])
    await pipeline.take(consumer, [record(3, b"D"), record(4, b"E")])
    await asyncio.sleep(0.05)
    assert consumer.committed() == {P0: 1}
    await pipeline.stop(grace=0)
    assert consumer.committed() == {P0: 1}


async def test_records_taken_again_are_not_handled_twice():
    handled: list[int] = []
    hold = asyncio.Event()

    async def handle(r) -> None:
        if r.offset == 1:
            await hold.wait()
        handled.append(r.offset)

    consumer, pipeline = Consumer(), lanes(handle)
    await pipeline.take(consumer, [record(0, b"A"), record(1, b"B"), record(2, b"C")])
    await asyncio.sleep(0.01)
    # Kafka hands them again (a rebalance back to this consumer): 1 still running, 0 and 2 done
    await pipeline.take(consumer, [record(0, b"A"), record(1, b"B"), record(2, b"C"), record(3, b"D")])
    hold.set()
    await pipeline.drain()
    assert sorted(handled) == [0, 1, 2, 3] and consumer.committed() == {P0: 4}


def test_the_position_to_commit_is_the_first_unfinished_record_of_the_partition():
    progress = PartitionProgress()
    for offset in (10, 11, 12):
        progress.take(offset)
    progress.finish(10)
    progress.finish(12)
    assert progress.position() == 11  # 12 finished, but 11 did not
    progress.finish(11)
    assert progress.position() == 13 and progress.finished == set()


async def test_each_record_is_handed_with_its_decoded_headers_and_body():
    got = []

    async def handle(r) -> None:
        got.append((r.body, r.headers))

    await lanes(handle, limit=1).run(Consumer(), [record(7, b"K")])
    assert got == [(b"b'K'-7", {"event-id": "e-7"})]


async def test_a_partition_revoked_while_its_records_are_handled_is_neither_committed_nor_retried():
    """A rebalance while records are handled: partition 0 was revoked (its new owner starts at
    the committed offset); its failing record is given up, its queued ones dropped, nothing of
    it committed; partition 1, still held, is committed as usual."""
    consumer, tries = Consumer(), []

    async def handle(r) -> None:
        if r.raw_message.partition == 0:
            tries.append(r.offset)
            consumer.assigned.discard(P0)  # revoked meanwhile
            raise ConnectionError("store away")

    pipeline = lanes(handle)
    await pipeline.run(consumer, [record(0, b"A"), record(1, b"A"), record(0, b"B", partition=1)])
    assert tries == [0] and consumer.committed() == {P1: 1}


async def test_fetching_pauses_while_the_backlog_is_full_and_resumes_when_records_finish():
    release = asyncio.Event()

    async def handle(r) -> None:
        await release.wait()

    consumer, pipeline = Consumer(), lanes(handle, backlog=3)
    await pipeline.take(consumer, [record(n, bytes([n])) for n in range(3)])
    assert consumer.paused() == {P0, P1}
    release.set()
    await pipeline.drain()
    assert consumer.paused() == set() and consumer.committed() == {P0: 3}


async def test_stopping_commits_what_finished_and_leaves_the_rest_to_be_handed_again():
    async def handle(r) -> None:
        if r.offset == 1:
            await asyncio.Event().wait()  # never ends

    consumer, pipeline = Consumer(), lanes(handle)
    await pipeline.take(consumer, [record(0, b"A"), record(1, b"B"), record(2, b"C")])
    await asyncio.sleep(0.01)
    await asyncio.wait_for(pipeline.stop(grace=0.05), 5)
    assert consumer.committed() == {P0: 1}


async def test_records_fetched_while_stopping_are_left_to_kafka_and_a_failing_one_gives_up():
    handled: list[int] = []

    async def handle(r) -> None:
        if r.offset == 0:
            raise ConnectionError("broker away")
        handled.append(r.offset)

    consumer, pipeline = Consumer(), lanes(handle)
    await pipeline.take(consumer, [record(0, b"A")])
    stopping = asyncio.create_task(pipeline.stop(grace=5))
    await asyncio.sleep(0)
    await pipeline.take(consumer, [record(1, b"B")])  # faststream still fetching meanwhile
    await asyncio.wait_for(stopping, 5)  # the failing record gave up: no 5 s grace waited out
    assert handled == [] and consumer.committed().get(P0, 0) == 0  # nothing past record 0


async def test_nothing_is_taken_after_stopping_until_started_again():
    handled: list[int] = []

    async def handle(r) -> None:
        handled.append(r.offset)

    consumer, pipeline = Consumer(), lanes(handle)
    await pipeline.stop(grace=0)
    await pipeline.take(consumer, [record(0, b"A")])  # delivered while the broker stops
    await asyncio.sleep(0.01)
    assert handled == [] and consumer.committed() == {}
    pipeline.start()  # reconnected
    await pipeline.take(consumer, [record(0, b"A")])
    await pipeline.drain()
    assert handled == [0] and consumer.committed() == {P0: 1}


async def test_records_finished_while_a_commit_is_in_flight_are_committed_after_it():
    commit_may_end, handled = asyncio.Event(), asyncio.Event()

    class SlowCommits(Consumer):
        async def commit(self, offsets):
            await commit_may_end.wait()
            await super().commit(offsets)

    async def handle(r) -> None:
        if r.offset == 1:
            handled.set()

    consumer = SlowCommits()
    pipeline = LanedBatches(handle, 4, retry_pause=0, commit_interval=0.01)
    await pipeline.take(consumer, [record(0, b"A")])
    await asyncio.sleep(0.05)  # the first commit is in flight now
    await pipeline.take(consumer, [record(1, b"B")])
    await handled.wait()
    commit_may_end.set()
    for _ in range(100):  # no drain: the commits that follow the records alone
        if consumer.committed() == {P0: 2}:
            break
        await asyncio.sleep(0.01)
    assert consumer.committed() == {P0: 2}


async def test_a_skipped_record_is_never_handled_and_is_committed_in_its_turn():
    """`skip`: a record no handler would act on is finished as it is taken; the committed
    offset still never passes an unfinished record before it."""
    first_may_end, handled = asyncio.Event(), []

    async def handle(r) -> None:
        if r.offset == 0:
            await first_may_end.wait()
        handled.append(r.offset)

    consumer = Consumer()
    pipeline = lanes(handle, skip=lambda raw: raw.offset in (1, 3))
    await pipeline.take(consumer, [record(n, b"a") for n in range(4)])
    await asyncio.sleep(0.05)
    assert handled == [] and consumer.committed().get(P0) in (None, 0)  # behind offset 0
    first_may_end.set()
    await pipeline.drain()
    assert handled == [0, 2] and consumer.committed() == {P0: 4}


async def test_a_batch_of_skipped_records_only_is_committed():
    consumer = Consumer()
    handled: list[int] = []

    async def handle(r) -> None:
        handled.append(r.offset)

    await lanes(handle, skip=lambda raw: True).run(consumer, [record(n, b"a") for n in range(5)])
    assert handled == [] and consumer.committed() == {P0: 5}


async def test_a_record_given_up_on_a_revoked_partition_is_handled_when_the_partition_comes_back():
    """Its partition revoked while the record was failing, then assigned back before any batch
    came in between (faststream hands the handler fetched records only): Kafka hands the
    partition again from the committed offset, and the record given up must be handled then,
    never counted as done and committed past (review of the laned subscribers)."""
    handled, failing = [], {"on": True}

    async def handle(r) -> None:
        if r.offset == 1 and failing["on"]:
            raise RuntimeError("the database is away")
        handled.append(r.offset)

    consumer = Consumer()
    pipeline = LanedBatches(handle, 4, retry_pause=0.01, commit_interval=0)
    await pipeline.take(consumer, [record(0, b"a"), record(1, b"b"), record(2, b"c")])
    await asyncio.sleep(0.05)
    consumer.assigned = {P1}  # P0 to another consumer, which commits nothing
    await asyncio.sleep(0.05)  # offset 1's retry sees P0 revoked: given up
    failing["on"] = False
    consumer.assigned = {P0, P1}  # back, handed again from the committed offset (1)
    await pipeline.take(consumer, [record(1, b"b"), record(2, b"c"), record(3, b"d")])
    await pipeline.drain()
    assert 1 in handled and handled.count(3) == 1
    assert consumer.committed()[P0] == 4


async def test_a_failed_commit_is_tried_again_though_nothing_finishes_after_it():
    class Flaky(Consumer):
        failures = 1

        async def commit(self, offsets):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("the broker is away")
            await super().commit(offsets)

    consumer = Flaky()
    handled: list[int] = []

    async def handle(r) -> None:
        handled.append(r.offset)

    import services.common.lanes as lanes_module
    pipeline = LanedBatches(handle, 4, retry_pause=0, commit_interval=0.01)
    original, lanes_module.COMMIT_RETRY_PAUSE = lanes_module.COMMIT_RETRY_PAUSE, 0.02
    try:
        await pipeline.take(consumer, [record(0, b"a"), record(1, b"b")])
        for _ in range(100):
            if consumer.committed().get(P0) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        lanes_module.COMMIT_RETRY_PAUSE = original
    assert handled == [0, 1] and consumer.failures == 0 and consumer.committed() == {P0: 2}


async def until(condition, tries: int = 200) -> None:
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_nothing_is_committed_while_the_group_rebalances():
    """Between the revocation and the new assignment no commit is sent (one sent there with the
    previous generation made aiokafka forget its member id: the consumer joined again and
    again); what finished before is committed as the rebalance starts, the rest after it."""
    second_may_end, second_done = asyncio.Event(), asyncio.Event()

    async def handle(r) -> None:
        if r.offset == 1:
            await second_may_end.wait()
            second_done.set()

    consumer = Consumer()
    pipeline = LanedBatches(handle, 4, retry_pause=0, commit_interval=0.01)
    listener = pipeline.rebalance_listener()
    await pipeline.take(consumer, [record(0, b"a"), record(1, b"b")])
    await asyncio.sleep(0)  # record 0 finishes; its commit would wait for the interval
    await listener.on_partitions_revoked({P0, P1})
    assert consumer.committed() == {P0: 1}  # committed as the rebalance started
    second_may_end.set()
    await second_done.wait()
    await asyncio.sleep(0.1)  # ten commit intervals
    assert consumer.committed() == {P0: 1}  # record 1 finished, but the group is rebalancing
    await listener.on_partitions_assigned({P0, P1})
    await until(lambda: consumer.committed() == {P0: 2})
    assert consumer.committed() == {P0: 2}


async def test_a_partition_lost_in_a_rebalance_is_forgotten_when_the_new_assignment_comes():
    """Its queued records are left to its new owner at once, not at the next batch, and it is
    not committed again."""
    first_may_end, handled = asyncio.Event(), []

    async def handle(r) -> None:
        handled.append(r.offset)
        if r.offset == 0:
            await first_may_end.wait()

    consumer = Consumer()
    pipeline = LanedBatches(handle, 4, retry_pause=0, commit_interval=0.01)
    listener = pipeline.rebalance_listener()
    await pipeline.take(consumer, [record(0, b"a"), record(1, b"a"), record(2, b"b", partition=1)])
    await until(lambda: 2 in handled)
    await listener.on_partitions_revoked({P0, P1})
    consumer.assigned = {P1}
    await listener.on_partitions_assigned({P1})
    since_assigned = len(consumer.commits)
    first_may_end.set()  # the lane's head finishes; the record queued behind it is dropped
    await until(lambda: consumer.committed().get(P1) == 3)
    await asyncio.sleep(0.05)
    assert handled == [0, 2] and consumer.committed() == {P0: 0, P1: 3}  # P0 never past record 0
    assert all(P0 not in commit for commit in consumer.commits[since_assigned:])


async def test_a_commit_in_flight_as_a_rebalance_starts_is_not_sent_inside_it():
    """The committer is stopped as the rebalance starts: a commit it had under way (or would
    retry) would otherwise reach the broker after the group's JoinGroup."""
    in_flight, release = asyncio.Event(), asyncio.Event()

    class FirstCommitSlow(Consumer):
        calls = 0

        async def commit(self, offsets):
            self.calls += 1
            if self.calls == 1:
                in_flight.set()
                await release.wait()
            await super().commit(offsets)

    async def handle(r) -> None:
        pass

    consumer = FirstCommitSlow()
    pipeline = LanedBatches(handle, 4, retry_pause=0, commit_interval=0.01)
    listener = pipeline.rebalance_listener()
    await pipeline.take(consumer, [record(0, b"a")])
    await in_flight.wait()
    await listener.on_partitions_revoked({P0, P1})
    assert consumer.commits == [{P0: 1}]  # the revocation's own
    release.set()
    await asyncio.sleep(0.1)
    assert consumer.commits == [{P0: 1}]  # the committer's was cancelled, not sent late


async def test_the_revocation_commit_gives_up_after_its_timeout(monkeypatch):
    """aiokafka retries a commit without a coordinator without end, and its close waits for
    the revocation callback: a broker gone must not hold the stop."""
    import services.common.lanes as lanes_module

    class NeverAnswers(Consumer):
        async def commit(self, offsets):
            await asyncio.Event().wait()

    async def handle(r) -> None:
        pass

    monkeypatch.setattr(lanes_module, "REVOCATION_COMMIT_TIMEOUT", 0.05)
    consumer = NeverAnswers()
    pipeline = LanedBatches(handle, 4, retry_pause=0, commit_interval=10)
    await pipeline.take(consumer, [record(0, b"a")])
    await asyncio.sleep(0)
    await asyncio.wait_for(pipeline.rebalance_listener().on_partitions_revoked({P0, P1}), 2)
