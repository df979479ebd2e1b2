"""Caps per dispute (policy): messages, evidence files and offers stop at their maximum, checked
before anything is recorded; a stream recorded under a higher cap still loads."""

from dataclasses import replace

import pytest
from eventsourcing.application import Application

from services.dispute.domain import DisputePolicy, DomainError
from tests.unit.domain.support import (
    POLICY, SELLER, add_evidence, given, offer, open_dispute, photo, post_message, refused,
    reject, reject_claim, terms, when,
)

TWO_OF_EACH = replace(POLICY, max_messages=2, max_evidence_files=2, max_offers=2)


def test_a_message_past_the_cap_is_refused():
    dispute = given(open_dispute(), post_message("M-1", policy=TWO_OF_EACH),
                    post_message("M-2", by=SELLER, policy=TWO_OF_EACH))
    assert refused(dispute, post_message("M-3", policy=TWO_OF_EACH)) == "TOO_MANY_MESSAGES"


def test_a_message_up_to_the_cap_is_posted():
    dispute = given(open_dispute(), post_message("M-1", policy=TWO_OF_EACH))
    assert when(dispute, post_message("M-2", policy=TWO_OF_EACH)) == ["MessagePosted"]


def test_an_evidence_file_past_the_cap_is_refused():
    dispute = given(open_dispute(evidence=[photo("E-1")]), add_evidence("E-2", policy=TWO_OF_EACH))
    assert refused(dispute, add_evidence("E-3", policy=TWO_OF_EACH)) == "TOO_MANY_EVIDENCE_FILES"


def test_opening_with_more_evidence_files_than_the_cap_is_refused():
    with pytest.raises(DomainError) as refusal:
        open_dispute(evidence=[photo(f"E-{n}") for n in range(3)], policy=TWO_OF_EACH)
    assert refusal.value.code == "TOO_MANY_EVIDENCE_FILES"


def test_rejecting_the_claim_with_files_past_the_cap_is_refused():
    dispute = given(open_dispute(evidence=[photo("E-1"), photo("E-2")]))
    code = refused(dispute, reject_claim(evidence=[photo("S-E1")], policy=TWO_OF_EACH))
    assert code == "TOO_MANY_EVIDENCE_FILES"


def test_an_offer_past_the_cap_is_refused_even_with_rounds_left():
    many_rounds = replace(TWO_OF_EACH, max_offer_rounds=10)
    dispute = given(open_dispute(), offer("A", policy=many_rounds),
                    reject("A", counter=terms("B", "60.00"), policy=many_rounds))
    code = refused(dispute, reject("B", counter=terms("C", "50.00"), by=SELLER, policy=many_rounds))
    assert code == "TOO_MANY_OFFERS"


def test_a_stream_past_a_lowered_cap_still_loads_and_takes_no_more():
    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"})
    dispute = open_dispute()
    for n in range(3):
        post_message(f"M-{n}")(dispute)
    app.save(dispute)
    reloaded = app.repository.get(dispute.id)
    assert len(reloaded.messages) == 3
    assert refused(reloaded, post_message("M-9", policy=TWO_OF_EACH)) == "TOO_MANY_MESSAGES"


def test_the_default_caps_are_generous():
    assert (DisputePolicy().max_messages, DisputePolicy().max_evidence_files,
            DisputePolicy().max_offers) == (500, 50, 20)

