import pytest

from services.dispute.domain import Role

from tests.unit.domain.support import (
    OPERATOR, SELLER, day, feedback, given, refused, when,
)


def test_the_buyer_leaves_feedback_after_resolution(dispute_resolved_by_agreement):
    assert when(dispute_resolved_by_agreement, feedback(5)) == ["FeedbackLeft"]
    assert dispute_resolved_by_agreement.feedback[Role.BUYER].rating == 5


def test_each_party_may_leave_feedback(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, feedback(5))
    assert when(dispute_resolved_by_agreement, feedback(2, by=SELLER)) == ["FeedbackLeft"]


def test_feedback_may_follow_a_withdrawal(dispute_withdrawn):
    assert when(dispute_withdrawn, feedback(3)) == ["FeedbackLeft"]


def test_feedback_may_follow_closing(dispute_closed):
    assert when(dispute_closed, feedback(1, at=day(22))) == ["FeedbackLeft"]


def test_feedback_is_left_once(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, feedback(5))
    assert refused(dispute_resolved_by_agreement, feedback(1)) == "INVALID_TRANSITION"


def test_feedback_waits_for_the_end_of_the_dispute(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, feedback(5)) == "INVALID_TRANSITION"


@pytest.mark.parametrize("rating", [0, 6, True])
def test_ratings_run_from_one_to_five(dispute_resolved_by_agreement, rating):
    assert refused(dispute_resolved_by_agreement, feedback(rating)) == "VALIDATION_FAILED"


def test_the_operator_leaves_no_feedback(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, feedback(by=OPERATOR)) == "FORBIDDEN"
