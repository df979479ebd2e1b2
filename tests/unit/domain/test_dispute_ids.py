"""Dispute ids cannot be computed from public data: keyed by the server, one per item."""

from uuid import UUID

import pytest

from services.dispute.domain import DisputeIds, former_dispute_id, keyed_dispute_id

KEY = b"server-side-dispute-id-key"


def test_a_new_dispute_id_is_not_the_uuid5_of_its_order_and_item():
    assert DisputeIds(KEY).for_new_dispute("O-1", "I-1") != former_dispute_id("O-1", "I-1")


def test_another_key_gives_another_id():
    assert keyed_dispute_id(KEY, "O-1", "I-1") != keyed_dispute_id(b"another-key", "O-1", "I-1")


def test_the_same_item_under_the_same_key_always_gets_the_same_id():
    assert DisputeIds(KEY).for_new_dispute("O-1", "I-1") == DisputeIds(KEY).for_new_dispute("O-1", "I-1")


def test_order_and_item_cannot_be_shifted_into_each_other():
    assert keyed_dispute_id(KEY, "O:1", "I") != keyed_dispute_id(KEY, "O", "1:I")


def test_a_keyed_id_is_a_well_formed_version_8_uuid():
    dispute_id = keyed_dispute_id(KEY, "O-1", "I-1")
    assert UUID(str(dispute_id)) == dispute_id and dispute_id.version == 8
    assert dispute_id.variant == "specified in RFC 4122"


def test_an_item_may_have_a_dispute_under_its_keyed_id_or_its_former_one():
    assert DisputeIds(KEY).for_item("O-1", "I-1") == (
        keyed_dispute_id(KEY, "O-1", "I-1"), former_dispute_id("O-1", "I-1"))


def test_the_key_never_shows_in_a_log_line():
    assert "server-side" not in repr(DisputeIds(KEY))


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError):
        DisputeIds(b"")
