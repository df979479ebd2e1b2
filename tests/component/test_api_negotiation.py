"""Offers, the claim, escalation and withdrawal over HTTP, with the refusals the domain names."""

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPERATOR, SELLER


def problem(response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()["code"]


def test_a_seller_offer_is_created_with_its_location_and_the_dispute(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "30.00", "note": "sorry"},
                        who=SELLER)
    body = api.ok(response, 201)
    offer = body["offer"]
    assert (offer["type"], offer["amount"], offer["status"], offer["made_by"]) == (
        "PARTIAL_REFUND", "30.00", "OPEN", "seller")
    assert response.headers["location"] == f"/v1/disputes/{api.dispute_id}/offers/{offer['offer_id']}"
    assert (body["dispute"]["status"], body["dispute"]["awaiting"]) == ("AWAITING_BUYER_RESPONSE", "buyer")
    assert body["dispute"]["current_offer_id"] == offer["offer_id"]


def test_a_command_answers_with_the_new_version_as_etag(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "30.00"}, who=SELLER)
    assert response.headers["etag"] == f'"{response.json()["dispute"]["version"]}"'


def test_accepting_the_current_offer_resolves_the_dispute_by_agreement(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    view = api.ok(api.post(f"/offers/{api.offer_id}/accept"))
    assert (view["status"], view["resolution"]["resolved_by"], view["resolution"]["refund_amount"]) == (
        "RESOLVED", "AGREEMENT", "30.00")
    assert view["offers"][0]["status"] == "ACCEPTED"


def test_rejecting_an_offer_gives_the_move_back_to_the_seller(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    view = api.ok(api.post(f"/offers/{api.offer_id}/reject", json={"reason": "too little"}))
    assert (view["status"], view["offers"][0]["status"]) == ("AWAITING_SELLER_RESPONSE", "REJECTED")


def test_a_rejection_may_carry_a_counter_offer(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    counter = api.counter(api.offer_id, BUYER, "60.00")
    offers = {o["offer_id"]: o for o in api.view()["offers"]}
    assert (offers[counter]["amount"], offers[counter]["made_by"], offers[counter]["round"]) == (
        "60.00", "buyer", 2)


def test_accepting_a_superseded_offer_is_offer_not_current(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    counter = api.counter(api.offer_id, BUYER, "60.00")
    latest = api.counter(counter, SELLER, "40.00")
    response = api.post(f"/offers/{api.offer_id}/accept")
    assert problem(response) == (409, "OFFER_NOT_CURRENT")
    assert api.view()["current_offer_id"] == latest


def test_the_party_who_made_the_offer_cannot_accept_it(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    assert problem(api.post(f"/offers/{api.offer_id}/accept", who=SELLER)) == (409, "NOT_YOUR_TURN")


def test_offering_out_of_turn_is_not_your_turn(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "50.00"}, who=BUYER)
    assert problem(response) == (409, "NOT_YOUR_TURN")


def test_a_fourth_offer_round_is_refused(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    third = api.counter(api.counter(api.offer_id, BUYER, "60.00"), SELLER, "40.00")
    body = {"counter_offer": {"type": "PARTIAL_REFUND", "amount": "50.00"}}
    response = api.post(f"/offers/{third}/reject", json=body, who=BUYER)
    assert problem(response) == (409, "MAX_OFFER_ROUNDS_REACHED")


def test_rejecting_the_last_round_escalates_automatically(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    third = api.counter(api.counter(api.offer_id, BUYER, "60.00"), SELLER, "40.00")
    view = api.ok(api.post(f"/offers/{third}/reject", json={}))
    assert (view["status"], view["escalation"]["trigger"]) == ("UNDER_REVIEW", "MAX_ROUNDS_REACHED")


def test_an_offer_above_the_refundable_amount_is_refused(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "150.00"}, who=SELLER)
    assert problem(response) == (422, "REFUND_EXCEEDS_REFUNDABLE_AMOUNT")


def test_an_offer_in_another_currency_is_refused(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "30.00", "currency": "EUR"},
                        who=SELLER)
    assert problem(response) == (422, "CURRENCY_MISMATCH")


def test_an_amount_with_more_than_two_decimals_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "30.005"}, who=SELLER)
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_a_zero_amount_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": 0}, who=SELLER)
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_amounts_may_be_json_numbers(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": 30.5}, who=SELLER)
    assert api.ok(response, 201)["offer"]["amount"] == "30.5"


def test_who_acts_cannot_be_given_in_the_body(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    body = {"type": "PARTIAL_REFUND", "amount": "30.00", "made_by": "buyer"}
    assert problem(api.post("/offers", json=body, who=SELLER)) == (422, "VALIDATION_FAILED")


def test_an_offer_after_the_seller_deadline_is_refused_as_not_open(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.clock.advance(days=5)
    response = api.post("/offers", json={"type": "PARTIAL_REFUND", "amount": "30.00"}, who=SELLER)
    assert problem(response) == (409, "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")
    assert api.view()["resolution"]["resolved_by"] == "TIMEOUT_SELLER"


def test_the_seller_accepting_the_claim_resolves_it(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    view = api.ok(api.post("/accept-claim", who=SELLER))
    assert (view["status"], view["resolution"]["resolved_by"], view["resolution"]["refund_amount"]) == (
        "RESOLVED", "SELLER_ACCEPTED_CLAIM", "100.00")


def test_rejecting_the_claim_with_a_counter_offer_awaits_the_buyer(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    body = {"reason": "it was fine", "counter_offer": {"type": "PARTIAL_REFUND", "amount": "10.00"}}
    view = api.ok(api.post("/reject-claim", json=body, who=SELLER))
    assert (view["status"], view["offers"][0]["amount"]) == ("AWAITING_BUYER_RESPONSE", "10.00")


def test_rejecting_the_claim_with_uploaded_evidence_awaits_the_buyer(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    evidence_id = api.evidence(who=SELLER)
    view = api.ok(api.post("/reject-claim", json={"evidence_ids": [evidence_id]}, who=SELLER))
    assert (view["status"], view["offers"]) == ("AWAITING_BUYER_RESPONSE", [])


def test_rejecting_the_claim_with_nothing_to_show_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.post("/reject-claim", json={}, who=SELLER)) == (422, "VALIDATION_FAILED")


def test_escalating_before_the_window_opens_is_refused(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.post("/escalate", json={})) == (409, "ESCALATION_NOT_YET_ALLOWED")


def test_a_party_escalates_once_the_window_is_open(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.clock.advance(days=3)
    view = api.ok(api.post("/escalate", json={"note": "stuck"}, who=SELLER))
    assert (view["status"], view["awaiting"], view["escalation"]["trigger"]) == (
        "UNDER_REVIEW", "operator", "PARTY_REQUEST")


def test_the_buyer_withdraws_and_open_offers_are_withdrawn(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    view = api.ok(api.post("/withdraw", json={"reason": "parcel arrived"}))
    assert (view["status"], view["offers"][0]["status"]) == ("WITHDRAWN", "WITHDRAWN")


def test_withdrawing_a_resolved_dispute_is_already_resolved(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    assert problem(api.post("/withdraw")) == (409, "DISPUTE_ALREADY_RESOLVED")


def test_a_withdrawn_dispute_cannot_be_opened_again(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/withdraw"))
    response = api.post("/v1/disputes", json={"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED",
                                              "request": "FULL_REFUND"})
    assert problem(response) == (409, "DISPUTE_PREVIOUSLY_CLOSED_FOR_ITEM")


def test_commands_on_a_withdrawn_dispute_are_invalid_transitions(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/withdraw"))
    assert problem(api.post("/escalate", json={})) == (409, "INVALID_TRANSITION")


def test_an_operator_does_not_negotiate(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json={"type": "FULL_REFUND"}, who=OPERATOR)
    assert problem(response) == (403, "FORBIDDEN")
