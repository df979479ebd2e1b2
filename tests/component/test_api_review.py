"""The operator's part and appeals over HTTP: evidence requests, decisions, appeals, closing."""

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPERATOR, SELLER


def problem(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_an_operator_requests_evidence_from_a_party(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    response = api.post("/evidence-requests", json={"from_party": "seller", "note": "photos"},
                        who=OPERATOR)
    body = api.ok(response, 201)
    request = body["evidence_request"]
    assert (request["from_party"], request["status"]) == ("seller", "OPEN")
    assert response.headers["location"].endswith(f"/evidence-requests/{request['request_id']}")
    assert "EVIDENCE_REQUEST" in body["dispute"]["deadlines"]


def test_evidence_from_the_asked_party_answers_the_request(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    api.ok(api.post("/evidence-requests", json={"from_party": "seller"}, who=OPERATOR), 201)
    api.evidence(who=SELLER)
    assert api.view()["evidence_request"]["status"] == "ANSWERED"


def test_a_second_open_evidence_request_is_an_invalid_transition(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    api.ok(api.post("/evidence-requests", json={"from_party": "seller"}, who=OPERATOR), 201)
    response = api.post("/evidence-requests", json={"from_party": "buyer"}, who=OPERATOR)
    assert problem(response) == (409, "INVALID_TRANSITION")


def test_requesting_evidence_from_an_operator_is_a_validation_problem(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    response = api.post("/evidence-requests", json={"from_party": "operator"}, who=OPERATOR)
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_the_operator_decides_a_partial_refund(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    body = {"outcome": "PARTIAL", "refund_amount": "40.00", "note": "both at fault"}
    view = api.ok(api.post("/decision", json=body, who=OPERATOR))
    assert (view["status"], view["resolution"]["resolved_by"], view["resolution"]["refund_amount"]) == (
        "RESOLVED", "PLATFORM_DECISION", "40.00")


def test_a_decision_may_order_a_return_first(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    body = {"outcome": "BUYER_FAVOUR", "refund_amount": "100.00", "return_required": True}
    assert api.ok(api.post("/decision", json=body, who=OPERATOR))["status"] == "AWAITING_RETURN_SHIPMENT"


def test_a_decision_above_the_refundable_amount_is_refused(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    body = {"outcome": "BUYER_FAVOUR", "refund_amount": "100.01"}
    assert problem(api.post("/decision", json=body, who=OPERATOR)) == (422, "REFUND_EXCEEDS_REFUNDABLE_AMOUNT")


def test_a_decision_in_another_currency_is_refused(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    body = {"outcome": "BUYER_FAVOUR", "refund_amount": "10.00", "currency": "EUR"}
    assert problem(api.post("/decision", json=body, who=OPERATOR)) == (422, "CURRENCY_MISMATCH")


def test_deciding_a_dispute_that_is_not_under_review_is_an_invalid_transition(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/decision", json={"outcome": "SELLER_FAVOUR"}, who=OPERATOR)
    assert problem(response) == (409, "INVALID_TRANSITION")


def test_the_losing_party_appeals_with_new_evidence(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    evidence_id = api.evidence(who=SELLER)
    response = api.post("/appeals", json={"evidence_ids": [evidence_id], "reason": "see photo"},
                        who=SELLER)
    body = api.ok(response, 201)
    assert (body["appeal"]["status"], body["appeal"]["appealed_by"]) == ("OPEN", "seller")
    assert response.headers["location"].endswith(f"/appeals/{body['appeal']['appeal_id']}")
    assert body["dispute"]["status"] == "APPEALED"


def test_an_appeal_without_new_evidence_is_refused(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    response = api.post("/appeals", json={"evidence_ids": []}, who=SELLER)
    assert problem(response) == (422, "APPEAL_REQUIRES_NEW_EVIDENCE")


def test_the_winning_party_may_not_appeal(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    evidence_id = api.evidence(who=BUYER)
    response = api.post("/appeals", json={"evidence_ids": [evidence_id]}, who=BUYER)
    assert problem(response) == (403, "ONLY_LOSING_PARTY_MAY_APPEAL")


def test_an_appeal_after_the_window_is_refused(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    evidence_id = api.evidence(who=SELLER)
    api.clock.advance(days=15)
    response = api.post("/appeals", json={"evidence_ids": [evidence_id]}, who=SELLER)
    assert problem(response) == (409, "APPEAL_WINDOW_CLOSED")


def test_the_operator_decides_the_appeal_and_the_dispute_closes(api_with_appealed_dispute):
    api = api_with_appealed_dispute
    body = {"outcome": "UPHELD", "note": "the photos show the damage"}
    view = api.ok(api.post(f"/appeals/{api.appeal_id}/decision", json=body, who=OPERATOR))
    assert (view["status"], view["appeals"][0]["outcome"]) == ("CLOSED", "UPHELD")


def test_an_upheld_appeal_awards_nothing_extra(api_with_appealed_dispute):
    api = api_with_appealed_dispute
    body = {"outcome": "UPHELD", "extra_refund": "5.00"}
    response = api.post(f"/appeals/{api.appeal_id}/decision", json=body, who=OPERATOR)
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_deciding_an_unknown_appeal_is_a_validation_problem(api_with_appealed_dispute):
    api = api_with_appealed_dispute
    response = api.post("/appeals/A-404/decision", json={"outcome": "UPHELD"}, who=OPERATOR)
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_a_second_appeal_is_refused(api_with_appealed_dispute):
    api = api_with_appealed_dispute
    api.ok(api.post(f"/appeals/{api.appeal_id}/decision", json={"outcome": "UPHELD"}, who=OPERATOR))
    response = api.post("/appeals", json={"evidence_ids": ["E-1"]}, who=SELLER)
    assert problem(response) == (409, "MAX_APPEALS_REACHED")


def test_the_operator_closes_a_resolved_dispute(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    view = api.ok(api.post("/close", who=OPERATOR))
    assert (view["status"], view["deadlines"]) == ("CLOSED", {})


def test_closing_an_open_dispute_is_an_invalid_transition(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.post("/close", json={}, who=OPERATOR)) == (409, "INVALID_TRANSITION")
