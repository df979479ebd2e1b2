"""The refund store writes only the moves the lifecycle allows, by compare-and-set on a SQLite
store: a refused move changes nothing, and a move decided from a state another process has
changed meanwhile is decided again from what that process wrote."""

from decimal import Decimal
from uuid import uuid4

import pytest

from services.common.database import sqlalchemy_engine
from services.refund.lifecycle import (FAILED, ISSUED, PENDING, InstructionState,
                                       TransitionRefused)
from services.refund.policy import RefundInstruction, idempotency_key_for
from services.refund.store import RefundStore
from tests.support.refunds import opened_on_known_order


@pytest.fixture
def store(tmp_path) -> RefundStore:
    store = RefundStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/refund.sqlite"))
    store.create_tables()
    return store


def written(store: RefundStore, amount: str = "30.00") -> RefundInstruction:
    dispute_id, event_id = opened_on_known_order(store), str(uuid4())
    instruction = RefundInstruction(dispute_id=dispute_id, amount=Decimal(amount), currency="USD",
                                    idempotency_key=idempotency_key_for(dispute_id, event_id),
                                    cause_event_id=event_id)
    store.accept(event_id=event_id, terms=None, instruction=instruction, correlation_id="c-1")
    return instruction


def state(store: RefundStore, key: str) -> InstructionState:
    return store.instruction(key).state


def test_an_issued_refund_is_not_reopened_and_stays_as_it_was(store):
    key = written(store).idempotency_key
    store.record_issued(key, "re_1")
    before = store.instruction(key)
    assert store.reopen(key) is False
    assert store.instruction(key) == before


def test_a_known_failure_is_not_failed_again_nor_refused_again(store):
    key = written(store).idempotency_key
    assert store.record_refused(key, "CARD_CLOSED") is True
    assert store.record_failed(key, "PROVIDER_UNREACHABLE", retryable=True) is False
    assert store.record_refused(key, "OTHER") is False
    assert (store.instruction(key).reason, state(store, key)) == (
        "CARD_CLOSED", InstructionState(FAILED, reserved=False, attempt=1))


def test_a_result_whose_attempt_was_replaced_is_not_marked_published(store):
    key = written(store).idempotency_key
    store.record_failed(key, "NO_ANSWER", retryable=True)
    store.reopen(key)
    store.record_issued(key, "re_1")
    assert store.mark_published(key, attempt=1, status=FAILED) is False
    assert store.mark_published(key, attempt=2, status=ISSUED) is True
    assert state(store, key) == InstructionState(ISSUED, attempt=2, published=True)


def test_a_late_success_wins_over_a_failure_recorded_after_it_was_decided(store, monkeypatch):
    """Our read saw PENDING; another process wrote FAILED before our write: the write misses,
    and `issue` decided again from FAILED still leads to ISSUED."""
    instruction = written(store)
    key = instruction.idempotency_key
    store.reserve(instruction)
    decided_from = state(store, key)
    store.record_failed(key, "PROVIDER_UNREACHABLE", retryable=True)
    read, stale_reads = store._state, [decided_from]
    monkeypatch.setattr(store, "_state", lambda k, conn=None: (
        stale_reads.pop() if stale_reads else read(k, conn)))
    assert store.record_issued(key, "re_late") is True
    stored = store.instruction(key)
    assert (stored.status, stored.provider_reference, stored.reason) == (ISSUED, "re_late", None)
    assert decided_from.status is PENDING and not stale_reads


def test_a_move_decided_from_a_stale_state_never_overwrites_a_newer_one(store, monkeypatch):
    """The reopen was decided from FAILED, but the instruction was ISSUED meanwhile: the write
    misses and, decided again from ISSUED, the reopen is refused."""
    key = written(store).idempotency_key
    store.record_failed(key, "NO_ANSWER", retryable=True)
    failed = state(store, key)
    store.record_issued(key, "re_1")
    read, stale_reads = store._state, [failed]
    monkeypatch.setattr(store, "_state", lambda k, conn=None: (
        stale_reads.pop() if stale_reads else read(k, conn)))
    assert store.reopen(key) is False
    assert state(store, key).status is ISSUED


def test_an_instruction_settled_elsewhere_is_not_reserved(store):
    """Reserving a known failure would turn it into one the provider may have paid."""
    instruction = written(store)
    store.record_failed(instruction.idempotency_key, "ORDER_UNKNOWN", retryable=True)
    with pytest.raises(TransitionRefused):
        store.reserve(instruction)
    assert state(store, instruction.idempotency_key).reserved is False


def test_a_reserved_instruction_that_fails_keeps_an_unknown_outcome(store):
    instruction = written(store)
    assert store.reserve(instruction) is None
    store.record_failed(instruction.idempotency_key, "PROVIDER_UNREACHABLE", retryable=True)
    assert state(store, instruction.idempotency_key).outcome_unknown
    assert store.unknown_outcome_keys() == [instruction.idempotency_key]
