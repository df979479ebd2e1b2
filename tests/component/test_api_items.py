"""The Location a creating command answers with can be read, with the view's own rules."""

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPERATOR, OTHER_BUYER, SELLER


def test_an_offer_is_read_back_at_its_location(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    made = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "30.00"}, who=SELLER)
    offer = api.ok(api.get(made.headers["location"], who=BUYER))
    assert (offer["offer_id"], offer["amount"], offer["status"]) == (made.json()["offer"]["offer_id"],
                                                                     "30.00", "OPEN")


def test_a_message_is_read_back_by_the_parties(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    posted = api.post("/messages", json={"text": "where is it?"}, who=BUYER)
    assert api.ok(api.get(posted.headers["location"], who=SELLER))["text"] == "where is it?"


def test_a_platform_only_note_is_not_found_by_a_party(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    note = api.post("/messages", json={"text": "check seller history", "visibility": "PLATFORM_ONLY"},
                    who=OPERATOR)
    assert api.get(note.headers["location"], who=OPERATOR).status_code == 200
    response = api.get(note.headers["location"], who=SELLER)
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")


def test_another_orders_party_cannot_read_an_item(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    made = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "30.00"}, who=SELLER)
    response = api.get(made.headers["location"], who=OTHER_BUYER)
    assert (response.status_code, response.json()["code"]) == (404, "DISPUTE_NOT_FOUND")


def test_an_unknown_item_is_not_found(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    for path in ("/offers/nope", "/messages/nope", "/appeals/nope", "/evidence-requests/nope"):
        response = api.get(path, who=OPERATOR)
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND"), path
