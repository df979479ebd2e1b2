"""One command writer per event store shard: a command goes to the writer of its dispute's
shard, whose batches commit in that shard's database with their idempotency keys.

With one shard (the default) there is one writer, on the one store. The keys of a shard
live beside its events (the key row is written on the events' connection), so a key reused
on disputes of two shards is not recognised as reused: each shard knows its own keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from services.dispute.adapters.idempotency_store import IdempotencyStore
from services.dispute.application.batch import Submission
from services.dispute.application.shards import Disputes, sharded
from services.dispute.application.writer import CommandWriter, WriterSettings


class ShardWriters:
    def __init__(self, disputes: Disputes, keys: Sequence[IdempotencyStore],
                 settings: WriterSettings = WriterSettings()):
        self.routes = sharded(disputes)
        if len(keys) != len(self.routes.shards):
            raise ValueError("one idempotency store per shard, in shard order")
        self.writers = [CommandWriter(app, store, settings)
                        for app, store in zip(self.routes.shards, keys)]

    def for_dispute(self, dispute_id: UUID) -> CommandWriter:
        return self.writers[self.routes.index_of(dispute_id)]

    async def submit(self, submission: Submission) -> Any:
        return await self.for_dispute(submission.dispute_id).submit(submission)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
