"""A command's answer: the dispute view's JSON with each message's JSON kept from its first
serialisation (views.dispute_view_json), byte for byte what `model_dump_json()` gives, for
every viewer and every number of latest messages shown."""

import pytest

from services.common.auth import Principal
from services.dispute.entrypoints.http import views
from tests.unit.domain.support import (BUYER, OPERATOR, SELLER, add_evidence, day, given, offer,
                                       open_dispute, post_message)

TEXTS = ['plain', 'quotes " and \\ and ,"message_count":3 inside', '"messages":[],"message_count":1',
         'unicode é ✓ 🚚', 'new\nline\ttab', '']
VIEWERS = [None, Principal("buyer", "B-1"), Principal("seller", "S-1"), Principal("operator", "OP-1")]


def busy_dispute():
    dispute = open_dispute()
    steps = [add_evidence("E-1"), offer("A")]
    for n, text in enumerate(TEXTS * 2):
        by = (BUYER, SELLER, OPERATOR)[n % 3]
        visibility = "PLATFORM_ONLY" if n % 4 == 3 else "PARTIES"
        steps.append(post_message(f"M-{n}", text=text or "-", visibility=visibility, by=by,
                                  at=day(1 + n / 100)))
    return given(dispute, *steps)


@pytest.mark.parametrize("latest", [1, 3, 20])
@pytest.mark.parametrize("viewer", VIEWERS, ids=lambda v: v and v.role)
def test_the_answer_is_the_views_own_json(latest, viewer):
    dispute = busy_dispute()
    for _ in range(2):  # the second time every message's JSON comes from what was kept
        view, body = views.dispute_view_json(dispute, viewer, latest)
        assert view == views.dispute_view(dispute, viewer, latest)
        assert body == view.model_dump_json().encode()


def test_a_dispute_with_one_message_and_no_more_fields_after_it():
    dispute = given(open_dispute(), post_message("M-1", text="only"))
    view, body = views.dispute_view_json(dispute, Principal("buyer", "B-1"), 20)
    assert body == view.model_dump_json().encode()
    assert b'"messages":[{"message_id":"M-1"' in body


def test_a_dispute_without_messages():
    dispute = open_dispute()
    view, body = views.dispute_view_json(dispute, None, 20)
    assert view.messages == [] and body == view.model_dump_json().encode()
