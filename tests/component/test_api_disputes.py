"""Opening and reading a dispute: the rules of opening, and what the view carries."""

from datetime import timedelta

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPENING, SELLER, Clock, running_api
from tests.support.orders import order_placed

VIEW_FIELDS = {"id", "order_id", "item_id", "buyer_id", "seller_id", "reason", "request", "status",
               "awaiting", "deadlines", "offers", "current_offer_id", "paid_amount",
               "refunded_total", "refundable_amount", "currency", "resolution", "appeals",
               "evidence", "messages", "version", "created_at", "updated_at"}


def problem(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_the_view_carries_every_field_the_issue_lists(api_with_dispute_awaiting_buyer):
    view = api_with_dispute_awaiting_buyer.view(who=BUYER)
    assert VIEW_FIELDS <= set(view)


def test_the_view_says_whose_move_it_is_and_until_when(api_with_dispute_awaiting_buyer):
    view = api_with_dispute_awaiting_buyer.view(who=SELLER)
    assert (view["awaiting"], sorted(view["deadlines"])) == ("buyer", ["BUYER_RESPONSE", "NEGOTIATION_MAX"])


def test_the_view_shows_offers_with_their_status(api_with_dispute_awaiting_buyer):
    offer = api_with_dispute_awaiting_buyer.view()["offers"][0]
    assert (offer["type"], offer["amount"], offer["status"], offer["round"]) == ("PARTIAL_REFUND", "30.00", "OPEN", 1)


def test_the_view_shows_the_money_as_decimal_strings(api_with_dispute_awaiting_seller):
    view = api_with_dispute_awaiting_seller.view()
    assert (view["paid_amount"], view["refundable_amount"], view["currency"]) == ("100.00", "100.00", "USD")


def test_item_not_received_before_the_promised_date_is_refused(tmp_path):
    with running_api(tmp_path, Clock(), order_placed(promised_in=timedelta(days=3))) as api:
        response = api.post("/v1/disputes", json={**OPENING, "reason": "ITEM_NOT_RECEIVED"})
    assert problem(response) == (422, "PROMISED_DELIVERY_NOT_ELAPSED")


def test_opening_after_the_filing_window_is_refused(tmp_path):
    with running_api(tmp_path, Clock(), order_placed(promised_in=timedelta(days=-31))) as api:
        assert problem(api.post("/v1/disputes", json=OPENING)) == (422, "FILING_WINDOW_CLOSED")


def test_an_item_that_is_not_in_the_order_is_order_not_found(api):
    response = api.post("/v1/disputes", json={**OPENING, "item_id": "I-9"})
    assert problem(response) == (422, "ORDER_NOT_FOUND")


def test_an_unknown_reason_is_a_validation_problem(api):
    assert problem(api.post("/v1/disputes", json={**OPENING, "reason": "CHANGED_MY_MIND"})) == (
        422, "VALIDATION_FAILED")


def test_an_opened_dispute_is_read_back_by_its_buyer(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert api.view(who=BUYER)["id"] == api.dispute_id


def test_the_openapi_document_lists_every_route(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    on_dispute = "/v1/disputes/{dispute_id}"
    expected = ["/v1/disputes", on_dispute] + [on_dispute + p for p in (
        "/offers", "/offers/{offer_id}/accept", "/offers/{offer_id}/reject", "/accept-claim",
        "/reject-claim", "/escalate", "/evidence", "/evidence/{evidence_id}", "/messages",
        "/return-shipment", "/return-receipt", "/replacement-shipment", "/replacement-receipt",
        "/withdraw", "/evidence-requests", "/decision", "/appeals",
        "/appeals/{appeal_id}/decision", "/feedback", "/close")]
    assert [path for path in expected if path not in paths] == []
