import pytest

from services.dispute.domain import Role

from tests.unit.domain.support import (
    BUYER, OPERATOR, SELLER, day, feedback, given, refused, reply_to_feedback, when,
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


def test_the_seller_replies_once_to_the_buyers_feedback(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, feedback(2))
    assert when(dispute_resolved_by_agreement, reply_to_feedback(text="sorry, fixed")) == [
        "FeedbackReplied"]
    left = dispute_resolved_by_agreement.feedback[Role.BUYER]
    assert (left.rating, left.reply, left.replied_at) == (2, "sorry, fixed", day(8))
    assert refused(dispute_resolved_by_agreement, reply_to_feedback(text="edited")) == (
        "INVALID_TRANSITION")


def test_the_buyer_replies_to_the_sellers_feedback(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, feedback(5, by=SELLER))
    assert when(dispute_resolved_by_agreement,
                reply_to_feedback("seller", by=BUYER)) == ["FeedbackReplied"]


def test_nobody_replies_to_their_own_feedback(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, feedback(5))
    assert refused(dispute_resolved_by_agreement, reply_to_feedback(by=BUYER)) == "FORBIDDEN"


def test_a_reply_needs_feedback_to_answer(dispute_resolved_by_agreement):
    assert refused(dispute_resolved_by_agreement, reply_to_feedback()) == "INVALID_TRANSITION"


def test_operators_do_not_reply_to_feedback(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, feedback(5))
    assert refused(dispute_resolved_by_agreement, reply_to_feedback(by=OPERATOR)) == "FORBIDDEN"


@pytest.mark.parametrize("feedback_of", ["operator", "nobody"])
def test_only_parties_leave_feedback_to_reply_to(dispute_resolved_by_agreement, feedback_of):
    given(dispute_resolved_by_agreement, feedback(5))
    assert refused(dispute_resolved_by_agreement,
                   reply_to_feedback(feedback_of)) == "VALIDATION_FAILED"


def test_a_reply_has_words(dispute_resolved_by_agreement):
    given(dispute_resolved_by_agreement, feedback(5))
    assert refused(dispute_resolved_by_agreement, reply_to_feedback(text=" ")) == (
        "VALIDATION_FAILED")
