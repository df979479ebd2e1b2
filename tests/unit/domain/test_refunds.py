from decimal import Decimal

from tests.unit.domain.support import (
    SELLER, day, decide_appeal, given, refund_failed, refund_issued, refused, when,
)


def test_an_issued_refund_lowers_the_refundable_amount(dispute_resolved_by_agreement):
    assert when(dispute_resolved_by_agreement, refund_issued("R-1", "30.00")) == ["RefundIssued"]
    assert dispute_resolved_by_agreement.refunded_total == Decimal("30.00")
    assert dispute_resolved_by_agreement.refundable_amount == Decimal("70.00")


def test_a_redelivered_refund_records_nothing(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, refund_issued("R-1", "30.00"))
    assert when(dispute_resolved_by_agreement, refund_issued("R-1", "30.00")) == []
    assert dispute_resolved_by_agreement.refunded_total == Decimal("30.00")


def test_a_refund_paid_above_the_refundable_amount_is_still_recorded(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, refund_issued("R-1", "80.00"))
    assert when(dispute_resolved_by_agreement, refund_issued("R-2", "20.01")) == ["RefundIssued"]
    assert dispute_resolved_by_agreement.refundable_amount == Decimal("-0.01")


def test_a_refund_in_another_currency_is_refused(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, refund_issued(currency="EUR")) == (
        "CURRENCY_MISMATCH")


def test_a_refund_of_zero_fails_validation(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, refund_issued(amount="0")) == (
        "VALIDATION_FAILED")


def test_only_a_service_records_refunds(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, refund_issued(by=SELLER)) == "FORBIDDEN"


def test_no_refund_before_resolution(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, refund_issued()) == "INVALID_TRANSITION"


def test_a_refund_after_an_appeal_closed_the_dispute_is_recorded(dispute_appealed):
    given(dispute_appealed, decide_appeal(extra_refund="50.00", at=day(8)))
    assert when(dispute_appealed, refund_issued("R-9", "50.00", at=day(9))) == ["RefundIssued"]


def test_a_failed_refund_is_recorded_without_changing_the_state(dispute_resolved_by_agreement):
    assert when(dispute_resolved_by_agreement, refund_failed("R-1")) == ["RefundFailed"]
    assert dispute_resolved_by_agreement.status == "RESOLVED"
    assert dispute_resolved_by_agreement.refunded_total == Decimal("0")


def test_a_redelivered_failure_records_nothing(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, refund_failed("R-1"))
    assert when(dispute_resolved_by_agreement, refund_failed("R-1")) == []


def test_a_retried_refund_may_succeed_after_failing(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, refund_failed("R-1"))
    assert when(dispute_resolved_by_agreement, refund_issued("R-1", "30.00")) == ["RefundIssued"]
