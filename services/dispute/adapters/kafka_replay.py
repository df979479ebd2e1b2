"""Reset a Kafka consumer group to a point in time, so it reprocesses from then on.

Kafka keeps a timestamp per record; `offsets_for_times` finds, per partition, the first
record at or after the time, and those offsets are committed for the group. A group whose
members are running would overwrite them at its next commit, so it must be stopped first:
`GroupHasMembers` says so. Consumers of `disputes.events` dedupe by `event_id`, so what they
already handled is skipped on the second pass and only what they missed takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka import KafkaConnection, admin_client


class GroupHasMembers(RuntimeError):
    """Offsets of a group with live members cannot be reset: stop its consumers first."""


@dataclass
class PartitionReset:
    topic: str
    partition: int
    old_offset: int | None
    new_offset: int


async def replay_group(connection: KafkaConnection, group: str, to_datetime: datetime,
                       topics: list[str] | None = None) -> list[PartitionReset]:
    admin = admin_client(connection, "disputectl")
    await admin.start()
    try:
        members = await _members(admin, group)
        if members:
            raise GroupHasMembers(f"group {group!r} has {members} active member(s); stop its "
                                  f"consumers, then replay")
        committed = await admin.list_consumer_group_offsets(group)
        partitions = await _partitions(admin, committed, topics)
    finally:
        await admin.close()
    return await _commit_offsets_at(connection, group, to_datetime, committed, partitions)


async def _members(admin: AIOKafkaAdminClient, group: str) -> int:
    described = await admin.describe_consumer_groups([group])
    return sum(len(g[5]) for response in described for g in response.groups)


async def _commit_offsets_at(connection, group, to_datetime, committed, partitions) -> list[PartitionReset]:
    consumer = AIOKafkaConsumer(**connection.client_options(), group_id=group,
                                enable_auto_commit=False, client_id="disputectl")
    await consumer.start()
    try:
        consumer.assign(partitions)
        at_ms = int(to_datetime.timestamp() * 1000)
        found = await consumer.offsets_for_times({tp: at_ms for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        offsets = {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in partitions}
        await consumer.commit(offsets)
    finally:
        await consumer.stop()
    return [PartitionReset(tp.topic, tp.partition, _offset(committed.get(tp)), offset)
            for tp, offset in sorted(offsets.items())]


async def _partitions(admin, committed, topics) -> list[TopicPartition]:
    names = topics or sorted({tp.topic for tp in committed})
    if not names:
        raise LookupError("the group has no committed offsets: name the topic(s) with --topic")
    partitions = []
    for described in await admin.describe_topics(names):
        if described["error_code"] or not described["partitions"]:
            raise LookupError(f"no topic {described['topic']!r}")
        partitions += [TopicPartition(described["topic"], p["partition"]) for p in described["partitions"]]
    return sorted(partitions)


def _offset(value) -> int | None:
    return None if value is None or value.offset < 0 else value.offset
