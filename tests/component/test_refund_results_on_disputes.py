"""Refund results from `refunds.events` land on their dispute once per refund id: recorded on
the application directly, and by the command writer (as the API process records them, batched
with its HTTP commands), alike."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
import structlog
import structlog.testing

from contracts.refunds import RefundFailed, RefundIssued
from services.common.database import sqlalchemy_engine
from services.dispute.adapters.idempotency_store import IdempotencyStore
from services.dispute.application.writer import CommandWriter
from services.dispute.entrypoints.kafka_subscribers import (record_refund_result, write_or_record_alone,
                                                            write_refund_result)
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed


WRITERS: list[CommandWriter] = []


def by_the_writer(app, result, now=None) -> None:
    """`write_refund_result` through a command writer over `app` (one per application)."""
    writer = next((w for w in WRITERS if w.disputes is app), None)
    if writer is None:
        keys = IdempotencyStore(sqlalchemy_engine(app.settings_url))
        keys.create_tables()
        writer = CommandWriter(app, keys)
        WRITERS.append(writer)
    asyncio.run(write_refund_result(writer, result, **({"now": now} if now else {})))


@pytest.fixture(params=["directly", "by the writer"])
def record(request):
    yield record_refund_result if request.param == "directly" else by_the_writer
    while WRITERS:
        WRITERS.pop().close()


def application(url: str):
    app = build_application(DisputeSettings(database_url=url))
    app.settings_url = url  # type: ignore[attr-defined]
    return app


@pytest.fixture
def resolved_dispute(tmp_path):
    app = application(f"sqlite:///{tmp_path}/d.sqlite")
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed()), item_id="I-1",
                               actor=Actor(Role.BUYER, "B-1"), reason="DAMAGED",
                               request="FULL_REFUND", request_amount=None, description="", at=NOW)
    app.execute(dispute.id, NOW + timedelta(hours=1), lambda d: d.accept_claim(
        actor=Actor(Role.SELLER, "S-1"), at=NOW + timedelta(hours=1), policy=app.policy))
    return app, dispute.id


def issued(dispute_id, amount="100.00", refund_id="R-1") -> RefundIssued:
    return RefundIssued(event_id=uuid4(), refund_id=refund_id, dispute_id=dispute_id,
                        amount=Decimal(amount), currency="USD", occurred_at=NOW + timedelta(hours=2),
                        causation_id="resolved-event", provider_reference="re_1")


def test_an_issued_refund_lowers_the_refundable_amount(resolved_dispute, record):
    app, dispute_id = resolved_dispute
    record(app, issued(dispute_id))
    dispute = app.get_dispute(dispute_id)
    assert (dispute.refunded_total, dispute.refundable_amount) == (Decimal("100.00"), Decimal("0.00"))


def test_the_same_refund_reported_twice_is_recorded_once(resolved_dispute, record):
    app, dispute_id = resolved_dispute
    record(app, issued(dispute_id))
    version = app.get_dispute(dispute_id).version
    record(app, issued(dispute_id))
    assert app.get_dispute(dispute_id).version == version


def test_a_failed_refund_is_recorded_without_changing_the_amounts(resolved_dispute, record):
    app, dispute_id = resolved_dispute
    failed = RefundFailed(event_id=uuid4(), refund_id="R-1", dispute_id=dispute_id,
                          amount=Decimal("100.00"), currency="USD", occurred_at=NOW + timedelta(hours=2),
                          causation_id="resolved-event", reason="card closed", retryable=False)
    record(app, failed)
    dispute = app.get_dispute(dispute_id)
    assert dispute.refunded_total == 0 and "R-1" in dispute.failed_refunds


def test_a_refund_paid_above_the_refundable_amount_is_recorded_as_the_fact_it_is(resolved_dispute, record):
    app, dispute_id = resolved_dispute
    record(app, issued(dispute_id, amount="150.00"))
    assert app.get_dispute(dispute_id).refundable_amount == Decimal("-50.00")


def test_a_result_for_an_unknown_dispute_is_logged_for_operators_not_raised(resolved_dispute, record):
    app, _ = resolved_dispute
    with structlog.testing.capture_logs() as logs:
        record(app, issued(uuid4()))
    refused = [entry for entry in logs if entry["event"] == "kafka_command_refused"]
    assert [entry["code"] for entry in refused] == ["DISPUTE_NOT_FOUND"]


def test_a_result_stamped_by_a_clock_ahead_of_ours_fires_no_deadline_early(tmp_path, record):
    """A RefundFailed stamped six days ahead must not time out the seller, who has five days."""
    app = application(f"sqlite:///{tmp_path}/skew.sqlite")
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed()), item_id="I-1",
                               actor=Actor(Role.BUYER, "B-1"), reason="DAMAGED",
                               request="FULL_REFUND", request_amount=None, description="", at=NOW)
    ahead = RefundFailed(event_id=uuid4(), refund_id="R-1", dispute_id=dispute.id,
                         amount=Decimal("1.00"), currency="USD", occurred_at=NOW + timedelta(days=6),
                         causation_id="E-1", reason="x", retryable=False)
    record(app, ahead, now=lambda: NOW + timedelta(hours=1))
    assert app.get_dispute(dispute.id).status == "AWAITING_SELLER_RESPONSE"


class FailingWriter:
    """A writer whose every batch fails with `error` (as when another command of the batch
    broke it)."""

    def __init__(self, error: Exception):
        self.error, self.submitted = error, 0

    async def submit(self, submission):
        self.submitted += 1
        raise self.error


def test_a_result_whose_shared_batch_failed_for_good_is_recorded_alone(resolved_dispute):
    """Another command's failure in the batch must not send the result to the dead letters:
    recorded in a transaction of its own, as without the writer."""
    from eventsourcing.persistence import DataError
    app, dispute_id = resolved_dispute
    writer = FailingWriter(DataError("another command's row broke the batch"))
    asyncio.run(write_or_record_alone(writer, app, issued(dispute_id)))
    assert writer.submitted == 1 and app.get_dispute(dispute_id).refunded_total == Decimal("100.00")


def test_a_result_whose_batch_met_a_passing_fault_is_left_to_its_lane(resolved_dispute):
    from eventsourcing.persistence import OperationalError
    app, dispute_id = resolved_dispute
    version = app.get_dispute(dispute_id).version
    with pytest.raises(OperationalError):
        asyncio.run(write_or_record_alone(FailingWriter(OperationalError("the server went away")), app,
                                          issued(dispute_id)))
    assert app.get_dispute(dispute_id).version == version
