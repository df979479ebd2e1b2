"""The `disputes.audit` topic: the relay publishes signed checkpoints, audit verify reads them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterable
from uuid import UUID

from services.common.kafka import KafkaConnection, read_to_end
from services.dispute.adapters.audit_chain import ChainKeys
from services.dispute.audit.checkpoints import Checkpoint, CheckpointBook, heads_of, signed_record

READER_CLIENT_ID = "disputectl-audit"
RECORD_KEY = b"dispute-relay"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CheckpointPublisher:
    """Publishes, on the relay's own producer, one checkpoint per published batch."""

    def __init__(self, producer, topic: str, keys: ChainKeys, clock: Callable[[], datetime] = utc_now):
        self.producer, self.topic, self.keys, self.clock = producer, topic, keys, clock

    async def publish(self, position: int, links: Iterable[tuple[UUID, int, str | None]]) -> None:
        """`links`: (dispute id, version, hash) of the batch's stored events, in log order."""
        await (await self.send(position, links))

    async def send(self, position: int, links: Iterable[tuple[UUID, int, str | None]]):
        """Queue the checkpoint; the future it returns is its acknowledgement (the relay awaits
        it with its batch's records, before it saves the batch's position)."""
        checkpoint = Checkpoint(position, self.clock(), heads_of(links))
        return await self.producer.send(self.topic, value=signed_record(checkpoint, self.keys),
                                        key=RECORD_KEY)


async def read_checkpoints(connection: KafkaConnection, topic: str, keys: ChainKeys) -> CheckpointBook:
    book = CheckpointBook()
    async for record in read_to_end(connection, topic, READER_CLIENT_ID):
        book.add(record.value, keys, f"{topic}[{record.partition}]@{record.offset}")
    return book
