"""Announcements marked published together (services/refund/announcements.py): the marks
asked for while a transaction is written go into the next one, each decided by itself, and
each caller is answered only once its mark is committed (SQLite)."""

import asyncio

import pytest

from services.refund.announcements import PublishedMarks
from services.refund.store import RefundStore
from tests.component.test_refund_fewer_round_trips import Transactions, accepted, instruction_for, store  # noqa: F401
from tests.support.refunds import opened_on_known_order


def issued(store: RefundStore):
    result = accepted(store, instruction_for(opened_on_known_order(store)))
    return store.issued_from(result.stored, f"re_{result.stored.refund_id[:8]}")


async def test_marks_asked_for_together_are_written_in_fewer_transactions_each_as_written(store):
    results = [issued(store) for _ in range(6)]
    transactions, marks = Transactions(store), PublishedMarks(store)
    written = await asyncio.gather(*(marks.mark(one) for one in results))
    assert transactions.count < len(results)
    assert [w.idempotency_key for w in written] == [r.idempotency_key for r in results]
    assert all(w.published and w == store.instruction(w.idempotency_key) for w in written)


async def test_a_result_that_moved_meanwhile_gets_none_and_the_others_are_marked(store):
    first, moved = issued(store), issued(store)
    store.published_from(moved)  # another process announced it first
    written = await asyncio.gather(PublishedMarks(store).mark(first), PublishedMarks(store).mark(moved))
    assert written[0].published and written[1] is None


async def test_a_failed_transaction_fails_every_mark_in_it_and_the_next_marks_are_written(store, monkeypatch):
    results = [issued(store) for _ in range(3)]
    marks = PublishedMarks(store)

    def failing(_stored):
        raise ConnectionError("database away")

    monkeypatch.setattr(store, "published_from_each", failing)
    outcomes = await asyncio.gather(*(marks.mark(one) for one in results), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert not any(store.instruction(r.idempotency_key).published for r in results)
    monkeypatch.undo()
    assert (await marks.mark(results[0])).published


def test_marks_of_one_transaction_lock_their_rows_in_key_order_and_answer_in_the_callers(store, monkeypatch):
    # every replica locks in one order: two marking the same results in opposite orders would
    # deadlock (PostgreSQL aborts one batch, every caller in it publishes again)
    results = sorted((issued(store) for _ in range(4)), key=lambda r: r.idempotency_key, reverse=True)
    moved_in = []
    original = store._move_from

    def noting(one, move, **kwargs):
        moved_in.append(one.idempotency_key)
        return original(one, move, **kwargs)

    monkeypatch.setattr(store, "_move_from", noting)
    written = store.published_from_each(results)
    assert moved_in == sorted(r.idempotency_key for r in results)
    assert [w.idempotency_key for w in written] == [r.idempotency_key for r in results]
    assert all(w.published for w in written)
