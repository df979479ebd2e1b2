"""Returns and replacements over HTTP."""

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, SELLER

SHIPMENT = {"carrier": "UPS", "tracking_number": "1Z999"}


def problem(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_accepting_a_return_and_refund_claim_asks_the_buyer_to_ship(api_with_dispute_awaiting_return):
    view = api_with_dispute_awaiting_return.view()
    assert (view["status"], view["awaiting"], list(view["deadlines"])) == (
        "AWAITING_RETURN_SHIPMENT", "buyer", ["RETURN_SHIPMENT"])


def test_the_buyer_ships_the_return_with_tracking(api_with_dispute_awaiting_return):
    api = api_with_dispute_awaiting_return
    view = api.ok(api.post("/return-shipment", json=SHIPMENT))
    assert (view["status"], view["return_shipment"]["tracking_number"]) == ("RETURN_IN_TRANSIT", "1Z999")


def test_a_return_without_a_tracking_number_is_a_validation_problem(api_with_dispute_awaiting_return):
    api = api_with_dispute_awaiting_return
    response = api.post("/return-shipment", json={"carrier": "UPS", "tracking_number": ""})
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_shipping_the_return_after_the_ship_by_date_is_refused(api_with_dispute_awaiting_return):
    api = api_with_dispute_awaiting_return
    api.clock.advance(days=10)
    assert problem(api.post("/return-shipment", json=SHIPMENT)) == (409, "RETURN_WINDOW_CLOSED")
    assert api.view()["resolution"]["resolved_by"] == "TIMEOUT_BUYER"


def test_the_seller_acknowledging_the_return_resolves_with_the_refund(api_with_return_in_transit):
    api = api_with_return_in_transit
    view = api.ok(api.post("/return-receipt", json={"condition": "ITEM_RECEIVED"}, who=SELLER))
    assert (view["status"], view["resolution"]["refund_amount"]) == ("RESOLVED", "100.00")


def test_an_empty_box_with_evidence_escalates(api_with_return_in_transit):
    api = api_with_return_in_transit
    evidence_id = api.evidence(who=SELLER)
    body = {"condition": "EMPTY_PACKAGE_OR_DIFFERENT", "evidence_ids": [evidence_id]}
    view = api.ok(api.post("/return-receipt", json=body, who=SELLER))
    assert (view["status"], view["escalation"]["trigger"]) == ("UNDER_REVIEW", "RETURN_CONDITION_DISPUTED")


def test_a_return_problem_without_evidence_is_a_validation_problem(api_with_return_in_transit):
    api = api_with_return_in_transit
    response = api.post("/return-receipt", json={"condition": "DAMAGED"}, who=SELLER)
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_an_unknown_return_condition_is_a_validation_problem(api_with_return_in_transit):
    api = api_with_return_in_transit
    response = api.post("/return-receipt", json={"condition": "FINE"}, who=SELLER)
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_acknowledging_a_return_that_was_not_shipped_is_an_invalid_transition(api_with_dispute_awaiting_return):
    api = api_with_dispute_awaiting_return
    response = api.post("/return-receipt", json={"condition": "ITEM_RECEIVED"}, who=SELLER)
    assert problem(response) == (409, "INVALID_TRANSITION")


def test_the_seller_ships_the_agreed_replacement(api_with_dispute_awaiting_replacement):
    api = api_with_dispute_awaiting_replacement
    view = api.ok(api.post("/replacement-shipment", json=SHIPMENT, who=SELLER))
    assert (view["status"], view["awaiting"], view["replacement"]["shipped"]) == (
        "AWAITING_REPLACEMENT", "buyer", True)


def test_the_buyer_confirming_the_replacement_resolves_the_dispute(api_with_dispute_awaiting_replacement):
    api = api_with_dispute_awaiting_replacement
    api.ok(api.post("/replacement-shipment", json=SHIPMENT, who=SELLER))
    view = api.ok(api.post("/replacement-receipt", who=BUYER))
    assert (view["status"], view["resolution"]["remedy"]) == ("RESOLVED", "REPLACEMENT")


def test_confirming_a_replacement_before_it_ships_is_not_your_turn(api_with_dispute_awaiting_replacement):
    api = api_with_dispute_awaiting_replacement
    assert problem(api.post("/replacement-receipt", json={})) == (409, "NOT_YOUR_TURN")


def test_shipping_a_replacement_nobody_agreed_to_is_an_invalid_transition(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/replacement-shipment", json=SHIPMENT, who=SELLER)
    assert problem(response) == (409, "INVALID_TRANSITION")
