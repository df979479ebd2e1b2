"""The dispute API in-process, on an SQLite store, with orders fed straight into the book."""

import pytest
from fastapi.testclient import TestClient

from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET, bearer

BODY = {"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND",
        "description": "arrived broken"}


@pytest.fixture
def api(tmp_path):
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/dispute.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=lambda: NOW, run_consumers=False)
    app.state.orders.apply(order_placed())
    with TestClient(app) as client:
        yield client


def test_a_buyer_opens_a_dispute_on_their_order(api):
    response = api.post("/v1/disputes", json=BODY, headers=bearer("buyer", "B-1"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["seller_id"], body["paid_amount"]) == (
        "AWAITING_SELLER_RESPONSE", "S-1", "100.00")
    assert response.headers["location"] == f"/v1/disputes/{body['id']}"


def test_the_opened_dispute_reads_back_with_its_version_as_etag(api):
    opened = api.post("/v1/disputes", json=BODY, headers=bearer("buyer", "B-1")).json()
    response = api.get(f"/v1/disputes/{opened['id']}", headers=bearer("seller", "S-1"))
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"' and response.json()["version"] == 1


def test_opening_without_a_token_is_unauthenticated(api):
    response = api.post("/v1/disputes", json=BODY)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_a_token_signed_with_another_secret_is_unauthenticated(api):
    headers = bearer("buyer", "B-1", secret="another-secret-of-at-least-32-bytes!!")
    assert api.post("/v1/disputes", json=BODY, headers=headers).json()["code"] == "UNAUTHENTICATED"


def test_a_seller_cannot_open_a_dispute(api):
    response = api.post("/v1/disputes", json=BODY, headers=bearer("seller", "S-1"))
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_a_buyer_cannot_open_a_dispute_on_someone_elses_order(api):
    response = api.post("/v1/disputes", json=BODY, headers=bearer("buyer", "B-2"))
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_an_unknown_order_is_refused(api):
    response = api.post("/v1/disputes", json={**BODY, "order_id": "O-404"},
                        headers=bearer("buyer", "B-1"))
    assert (response.status_code, response.json()["code"]) == (422, "ORDER_NOT_FOUND")


def test_unknown_fields_in_the_body_are_refused(api):
    response = api.post("/v1/disputes", json={**BODY, "buyer_id": "B-9"},
                        headers=bearer("buyer", "B-1"))
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_a_partial_refund_request_needs_an_amount(api):
    response = api.post("/v1/disputes", json={**BODY, "request": "PARTIAL_REFUND"},
                        headers=bearer("buyer", "B-1"))
    assert response.json()["code"] == "VALIDATION_FAILED"


def test_a_malformed_json_body_is_a_validation_problem_not_a_500(api):
    response = api.post("/v1/disputes", content=b"{not json",
                        headers={**bearer("buyer", "B-1"), "content-type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_a_second_dispute_for_the_same_item_names_the_first(api):
    first = api.post("/v1/disputes", json=BODY, headers=bearer("buyer", "B-1")).json()
    response = api.post("/v1/disputes", json=BODY, headers=bearer("buyer", "B-1"))
    assert (response.status_code, response.json()["code"]) == (409, "DISPUTE_ALREADY_EXISTS_FOR_ITEM")
    assert response.json()["existing_dispute_id"] == first["id"]


def test_another_party_cannot_read_the_dispute(api):
    opened = api.post("/v1/disputes", json=BODY, headers=bearer("buyer", "B-1")).json()
    response = api.get(f"/v1/disputes/{opened['id']}", headers=bearer("seller", "S-9"))
    assert (response.status_code, response.json()["code"]) == (404, "DISPUTE_NOT_FOUND")


def test_a_refund_made_outside_disputes_lowers_what_the_dispute_may_return(api):
    from datetime import timedelta
    from decimal import Decimal
    from uuid import uuid4

    from contracts.orders import OrderRefunded

    api.app.state.orders.apply(OrderRefunded(event_id=uuid4(), order_id="O-1", amount=Decimal("30.00"),
                                             refunded_at=NOW - timedelta(days=1)))
    body = api.post("/v1/disputes", json=BODY, headers=bearer("buyer", "B-1")).json()
    assert (body["paid_amount"], body["refundable_amount"]) == ("100.00", "70.00")
