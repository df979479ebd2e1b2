"""A consumed resolution is recorded with its reservation in one transaction and its answer
and announcement written by compare-and-set from the state this process left, without reading
the instruction back; what the store holds afterwards is what the longer path left, and a
move another process made meanwhile is still decided again from what it wrote (SQLite)."""

from dataclasses import replace
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import event

from services.common.database import sqlalchemy_engine
from services.refund.desk import RefundDesk
from services.refund.dispute_consumer import on_dispute_fact, read_dispute_record
from services.refund.lifecycle import FAILED, ISSUED, PENDING
from services.refund.policy import RefundInstruction, distrust, idempotency_key_for
from services.refund.store import Distrusted, RefundStore
from services.refund.trust import TrustGate, TrustMetrics
from tests.component.test_refund_desk import Provider, Publisher, envelope
from tests.support.envelopes import resolved_payload
from tests.support.refunds import opened_on_known_order


@pytest.fixture
def store(tmp_path) -> RefundStore:
    store = RefundStore(sqlalchemy_engine(f"sqlite:///{tmp_path}/refund.sqlite"))
    store.create_tables()
    return store


def instruction_for(dispute_id: str, amount: str = "30.00") -> RefundInstruction:
    event_id = str(uuid4())
    return RefundInstruction(dispute_id=dispute_id, amount=Decimal(amount), currency="USD",
                             idempotency_key=idempotency_key_for(dispute_id, event_id),
                             cause_event_id=event_id)


def accepted(store: RefundStore, instruction: RefundInstruction):
    return store.accept_resolution(event_id=instruction.cause_event_id, instruction=instruction,
                                   correlation_id="c-1")


class Transactions:
    """Counts the store's transactions (each a connection checkout, its BEGIN and its end)."""

    def __init__(self, store: RefundStore):
        self.count = 0
        event.listen(store.engine, "begin", self._began)

    def _began(self, _conn) -> None:
        self.count += 1


def test_a_fresh_resolution_is_stored_holding_its_amount_in_one_transaction(store):
    instruction = instruction_for(opened_on_known_order(store))
    transactions = Transactions(store)
    result = accepted(store, instruction)
    assert transactions.count == 1
    stored = store.instruction(instruction.idempotency_key)
    assert (stored.status, stored.reserved, stored.reserved_at is not None) == (PENDING, True, True)
    assert result.stored == stored and result.refusal is None


def test_a_resolution_above_the_ceiling_is_stored_failed_and_holds_nothing(store):
    dispute_id = opened_on_known_order(store, paid="100.00")
    assert accepted(store, instruction_for(dispute_id, "80.00")).refusal is None
    result = accepted(store, instruction_for(dispute_id, "30.00"))
    stored = store.instruction(result.stored.idempotency_key)
    assert (stored.status, stored.reserved, stored.retryable) == (FAILED, False, False)
    assert result.refusal is not None and stored.reason == result.refusal.reason


def test_a_resolution_the_trust_gate_refuses_leaves_nothing_stored(store):
    instruction = instruction_for(str(uuid4()))  # a dispute never opened
    with pytest.raises(Distrusted) as refused:
        store.accept_resolution(event_id=instruction.cause_event_id, instruction=instruction,
                                correlation_id="c-1", vet=distrust)
    assert refused.value.reason == "DISPUTE_UNKNOWN"
    assert store.instruction(instruction.idempotency_key) is None
    assert accepted(store, instruction) is not None  # its event id was not kept either


def test_a_resolution_handled_before_is_not_stored_again(store):
    instruction = instruction_for(opened_on_known_order(store))
    accepted(store, instruction)
    assert accepted(store, instruction) is None


async def test_a_consumed_resolution_is_judged_paid_and_announced_in_three_transactions(store):
    resolved = envelope("Resolved", **resolved_payload("30.00"))
    dispute_id = opened_on_known_order(store, dispute_id=str(resolved.dispute_id))
    provider, publisher = Provider(), Publisher()
    transactions = Transactions(store)
    desk = RefundDesk(store, provider, publisher)
    await (on_dispute_fact(store, desk, TrustGate(store, TrustMetrics()), resolved,
                           read_dispute_record(resolved.kafka_value())[1]))
    await desk.marks_written()  # the third is written behind (test_refund_marks_behind.py)
    # judged by the trust gate and recorded with its reservation, issued, announced
    assert transactions.count == 3
    [stored] = store.for_dispute(dispute_id)
    assert (stored.status, stored.published, len(provider.paid)) == (ISSUED, True, 1)
    assert [e.event_id for e in publisher.published] and publisher.published[0].amount == Decimal("30.00")


def test_an_answer_recorded_from_a_state_another_process_moved_is_left_to_the_longer_path(store):
    result = accepted(store, instruction_for(opened_on_known_order(store)))
    key = result.stored.idempotency_key
    assert store.record_failed(key, "PROVIDER_UNREACHABLE", retryable=True)  # another replica
    assert store.issued_from(result.stored, "re_1") is None
    assert store.instruction(key).status == FAILED


def test_an_answer_recorded_from_the_state_this_process_left_is_returned_as_written(store):
    result = accepted(store, instruction_for(opened_on_known_order(store)))
    issued = store.issued_from(result.stored, "re_1")
    assert issued == store.instruction(result.stored.idempotency_key)
    assert (issued.status, issued.provider_reference, issued.published) == (ISSUED, "re_1", False)
    published = store.published_from(issued)
    assert published.published and store.published_from(issued) is None  # announced once


def test_a_result_replaced_after_it_was_published_is_not_marked_published(store):
    result = accepted(store, instruction_for(opened_on_known_order(store)))
    failed_first = replace(result.stored, status=FAILED)
    store.record_failed(result.stored.idempotency_key, "PROVIDER_UNREACHABLE", retryable=True)
    store.record_issued(result.stored.idempotency_key, "re_late")  # a late success won
    assert store.published_from(failed_first) is None
    assert not store.instruction(result.stored.idempotency_key).published
