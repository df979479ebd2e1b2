"""Messages and feedback over HTTP; messages for the platform only stay with the platform."""

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPERATOR, SELLER, SERVICE


def problem(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def texts(view) -> list[str]:
    return [m["text"] for m in view["messages"]]


def test_a_party_posts_a_message_everyone_on_the_dispute_reads(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "photos attached"}, who=BUYER)
    message = api.ok(response, 201)["message"]
    assert (message["visibility"], message["posted_by"]) == ("PARTIES", {"role": "buyer", "id": "B-1"})
    assert response.headers["location"].endswith(f"/messages/{message['message_id']}")
    assert texts(api.view(who=SELLER)) == ["photos attached"]


def test_a_platform_only_message_is_hidden_from_the_other_party(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json={"text": "seller is rude", "visibility": "PLATFORM_ONLY"}), 201)
    assert texts(api.view(who=SELLER)) == []


def test_a_platform_only_message_is_hidden_from_services(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json={"text": "private", "visibility": "PLATFORM_ONLY"}), 201)
    assert texts(api.view(who=SERVICE)) == []


def test_operators_read_platform_only_messages(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json={"text": "seller is rude", "visibility": "PLATFORM_ONLY"}), 201)
    assert texts(api.view(who=OPERATOR)) == ["seller is rude"]


def test_the_author_still_reads_their_own_platform_only_message(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json={"text": "note to staff", "visibility": "PLATFORM_ONLY"}), 201)
    assert texts(api.view(who=BUYER)) == ["note to staff"]


def test_an_operators_platform_only_note_is_hidden_from_both_parties(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json={"text": "internal", "visibility": "PLATFORM_ONLY"},
                    who=OPERATOR), 201)
    assert (texts(api.view(who=BUYER)), texts(api.view(who=SELLER))) == ([], [])


def test_an_empty_message_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.post("/messages", json={"text": ""})) == (422, "VALIDATION_FAILED")


def test_an_unknown_visibility_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "hi", "visibility": "PUBLIC"})
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_a_party_leaves_feedback_after_the_resolution(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    view = api.ok(api.post("/feedback", json={"rating": 4, "comment": "quick"}, who=BUYER))
    assert view["feedback"]["buyer"]["rating"] == 4


def test_feedback_cannot_be_left_twice(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    api.ok(api.post("/feedback", json={"rating": 4}, who=BUYER))
    assert problem(api.post("/feedback", json={"rating": 5}, who=BUYER)) == (409, "INVALID_TRANSITION")


def test_feedback_before_the_dispute_ends_is_an_invalid_transition(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.post("/feedback", json={"rating": 3}, who=SELLER)) == (409, "INVALID_TRANSITION")


def test_a_rating_outside_one_to_five_is_a_validation_problem(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    assert problem(api.post("/feedback", json={"rating": 6}, who=BUYER)) == (422, "VALIDATION_FAILED")


def test_the_seller_replies_once_to_the_buyers_feedback(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    api.ok(api.post("/feedback", json={"rating": 2, "comment": "slow"}, who=BUYER))
    view = api.ok(api.post("/feedback/buyer/reply", json={"text": "we were short-staffed"},
                           who=SELLER))
    assert view["feedback"]["buyer"]["reply"] == "we were short-staffed"
    again = api.post("/feedback/buyer/reply", json={"text": "edited"}, who=SELLER)
    assert problem(again) == (409, "INVALID_TRANSITION")
    assert api.view(who=BUYER)["feedback"]["buyer"]["reply"] == "we were short-staffed"


def test_a_party_cannot_answer_their_own_feedback(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    api.ok(api.post("/feedback", json={"rating": 2}, who=BUYER))
    assert problem(api.post("/feedback/buyer/reply", json={"text": "me"}, who=BUYER)) == (
        403, "FORBIDDEN")
    assert api.post("/feedback/operator/reply", json={"text": "x"}, who=SELLER).status_code == 422
