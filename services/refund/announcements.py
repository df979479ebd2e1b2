"""Marking published results, many in one transaction.

Once its RefundIssued (or RefundFailed) is on Kafka, each instruction is marked published by
compare-and-set (`RefundStore.published_from`). Refunds finishing together each took a thread
hop, a connection checkout and a commit for that one statement; here the marks asked for while
one transaction is being written wait for it to end and are written together in the next
(`published_from_each`), each still decided by itself. Every caller gets its own answer (the
row as written, or None when it moved meanwhile) only once its mark is committed; a failed
transaction fails every mark in it. The consumer's path does not wait for its mark (the desk
writes it behind, services/refund/desk.py: a result left unmarked is published again by the
reconcile); the reconcile and an operator's retry do.
"""

from __future__ import annotations

import asyncio

from services.refund.store import RefundStore, StoredInstruction


class PublishedMarks:
    def __init__(self, store: RefundStore):
        self.store = store
        self._waiting: list[tuple[StoredInstruction, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def mark(self, stored: StoredInstruction) -> StoredInstruction | None:
        """`published_from(stored)`, written with the marks asked for at the same time."""
        answer: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting.append((stored, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await answer

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                written = await asyncio.to_thread(self.store.published_from_each,
                                                  [stored for stored, _ in batch])
            except Exception as error:
                for _, answer in batch:
                    if not answer.done():  # a caller cancelled meanwhile (a stopping lane)
                        answer.set_exception(error)
                continue
            for (_, answer), row in zip(batch, written, strict=True):
                if not answer.done():
                    answer.set_result(row)
