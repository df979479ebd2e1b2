import pytest

from tests.unit.domain.support import (
    BUYER, OPERATOR, OTHER_BUYER, SELLER, SERVICE, add_evidence, day, given, post_message,
    refused, when,
)


def test_a_party_adds_evidence(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, add_evidence("E-1")) == ["EvidenceAdded"]
    assert dispute_awaiting_seller.evidence["E-1"].added_by == "buyer"


def test_evidence_does_not_change_whose_move_it_is(dispute_awaiting_seller):
    when(dispute_awaiting_seller, add_evidence("E-1", by=SELLER))
    assert (dispute_awaiting_seller.status, dispute_awaiting_seller.seller_responded) == (
        "AWAITING_SELLER_RESPONSE", False)


def test_evidence_may_be_added_after_resolution(dispute_resolved_by_agreement):
    assert when(dispute_resolved_by_agreement, add_evidence("E-1", at=day(3))) == [
        "EvidenceAdded"]


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/gif",
                                          "application/pdf"])
def test_evidence_files_may_be_images_or_pdf(dispute_awaiting_seller, content_type):
    assert when(dispute_awaiting_seller, add_evidence(content_type=content_type)) == [
        "EvidenceAdded"]


def test_a_video_is_evidence_rejected(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, add_evidence(content_type="video/mp4")) == (
        "EVIDENCE_REJECTED")


def test_a_file_over_ten_megabytes_is_evidence_rejected(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, add_evidence(size=10 * 1024 * 1024 + 1)) == (
        "EVIDENCE_REJECTED")


def test_an_empty_file_is_evidence_rejected(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, add_evidence(size=0)) == "EVIDENCE_REJECTED"


def test_evidence_needs_its_sha256(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, add_evidence(sha256="not-a-hash")) == (
        "VALIDATION_FAILED")


def test_evidence_is_append_only(dispute_awaiting_seller):
    given(dispute_awaiting_seller, add_evidence("E-1"))
    assert refused(dispute_awaiting_seller, add_evidence("E-1")) == "VALIDATION_FAILED"


def test_an_operator_does_not_add_evidence(dispute_under_review):
    assert refused(dispute_under_review, add_evidence(by=OPERATOR, at=day(5))) == "FORBIDDEN"


def test_a_stranger_may_not_add_evidence(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, add_evidence(by=OTHER_BUYER)) == "FORBIDDEN"


def test_a_party_posts_a_message(dispute_awaiting_seller):
    assert when(dispute_awaiting_seller, post_message()) == ["MessagePosted"]
    assert dispute_awaiting_seller.messages[0].posted_by == BUYER


def test_a_party_may_write_to_the_platform_only(dispute_awaiting_seller):
    when(dispute_awaiting_seller, post_message(visibility="PLATFORM_ONLY", by=SELLER))
    assert dispute_awaiting_seller.messages[0].visibility == "PLATFORM_ONLY"


def test_the_operator_may_post_a_message(dispute_under_review):
    assert when(dispute_under_review, post_message(by=OPERATOR, at=day(5))) == ["MessagePosted"]


def test_messages_may_be_posted_after_resolution(dispute_resolved_by_agreement):
    assert when(dispute_resolved_by_agreement, post_message(at=day(3))) == ["MessagePosted"]


def test_an_empty_message_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, post_message(text="  ")) == "VALIDATION_FAILED"


def test_a_message_over_the_limit_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, post_message(text="x" * 5001)) == "VALIDATION_FAILED"


def test_an_unknown_visibility_fails_validation(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, post_message(visibility="SELLER_ONLY")) == (
        "VALIDATION_FAILED")


def test_a_reused_message_id_fails_validation(dispute_awaiting_seller):
    given(dispute_awaiting_seller, post_message("M-1"))
    assert refused(dispute_awaiting_seller, post_message("M-1")) == "VALIDATION_FAILED"


def test_a_service_does_not_post_messages(dispute_awaiting_seller):
    assert refused(dispute_awaiting_seller, post_message(by=SERVICE)) == "FORBIDDEN"
