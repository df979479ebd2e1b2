"""Every route refuses a missing or bad token (401) and a role it does not serve (403); a
party of another order is answered as for a dispute that does not exist (404). Refusals
record nothing, so one dispute serves the whole module."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from services.common.auth import LOCAL_ISSUER, issue_token
from tests.component.test_api_support import (
    BUYER, OPERATOR, OTHER_BUYER, OTHER_SELLER, PNG, SELLER, SERVICE, Clock, running_api,
)
from tests.support.orders import order_placed
from tests.support.tokens import SECRET, bearer

OFFER = {"type": "PARTIAL_REFUND", "amount": "30.00"}
# (method, path under the dispute, body, roles the route serves)
ROUTES = [
    ("POST", "/offers", OFFER, {"buyer", "seller"}),
    ("POST", "/offers/O-X/accept", {}, {"buyer", "seller"}),
    ("POST", "/offers/O-X/reject", {"reason": "no"}, {"buyer", "seller"}),
    ("POST", "/accept-claim", {}, {"seller"}),
    ("POST", "/reject-claim", {"counter_offer": OFFER}, {"seller"}),
    ("POST", "/escalate", {}, {"buyer", "seller"}),
    ("POST", "/evidence", None, {"buyer", "seller"}),
    ("POST", "/messages", {"text": "hello"}, {"buyer", "seller", "operator"}),
    ("POST", "/return-shipment", {"carrier": "UPS", "tracking_number": "1Z"}, {"buyer"}),
    ("POST", "/return-receipt", {"condition": "ITEM_RECEIVED"}, {"seller"}),
    ("POST", "/replacement-shipment", {"carrier": "UPS", "tracking_number": "1Z"}, {"seller"}),
    ("POST", "/replacement-receipt", {}, {"buyer"}),
    ("POST", "/withdraw", {}, {"buyer"}),
    ("POST", "/evidence-requests", {"from_party": "buyer"}, {"operator"}),
    ("POST", "/decision", {"outcome": "SELLER_FAVOUR"}, {"operator"}),
    ("POST", "/appeals", {"evidence_ids": ["E-1"]}, {"buyer", "seller"}),
    ("POST", "/appeals/A-X/decision", {"outcome": "UPHELD"}, {"operator"}),
    ("POST", "/feedback", {"rating": 5}, {"buyer", "seller"}),
    ("POST", "/feedback/buyer/reply", {"text": "thanks"}, {"buyer", "seller"}),
    ("POST", "/close", {}, {"operator"}),
]
READS = [("GET", "", None, None), ("GET", "/evidence/E-X", None, None)]
OPEN = ("POST", "/v1/disputes", {"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED",
                                 "request": "FULL_REFUND"}, {"buyer"})
EVERY_ROUTE = [OPEN, *ROUTES, *READS]
STRANGERS = {"buyer": OTHER_BUYER, "seller": OTHER_SELLER}
PRINCIPALS = {"buyer": BUYER, "seller": SELLER, "operator": OPERATOR}


def route_id(route) -> str:
    return f"{route[0]} {route[1] or '/'}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("auth"), Clock(), order_placed()) as api:
        api.open()
        yield api


def call(api, route, headers):
    method, path, body, _ = route
    if method == "GET":
        return api.client.get(api.url(path), headers=headers)
    if path == "/evidence":
        return api.client.post(api.url(path), headers=headers,
                               files={"file": ("a.png", PNG, "image/png")})
    return api.client.post(api.url(path), json=body, headers=headers)


def assert_problem(response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("route", EVERY_ROUTE, ids=route_id)
def test_every_route_refuses_a_request_without_a_token(shared, route):
    assert_problem(call(shared, route, {}), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("route", EVERY_ROUTE, ids=route_id)
def test_every_route_refuses_a_token_signed_with_another_secret(shared, route):
    headers = bearer("buyer", "B-1", secret="another-secret-of-at-least-32-bytes!!")
    assert_problem(call(shared, route, headers), 401, "UNAUTHENTICATED")


def test_an_expired_token_is_unauthenticated(shared):
    expired = issue_token(SECRET, "buyer", "B-1", now=datetime.now(timezone.utc) - timedelta(days=1))
    response = shared.client.get(shared.url(""), headers={"Authorization": f"Bearer {expired}"})
    assert_problem(response, 401, "UNAUTHENTICATED")


def test_a_token_without_a_known_role_is_unauthenticated(shared):
    now = datetime.now(timezone.utc)
    claims = {"sub": "B-1", "role": "admin", "iss": LOCAL_ISSUER, "aud": "dispute-api",
              "iat": now, "exp": now + timedelta(hours=1)}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    response = shared.client.get(shared.url(""), headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "UNAUTHENTICATED")


def test_a_credential_that_is_not_a_bearer_token_is_unauthenticated(shared):
    response = shared.client.get(shared.url(""), headers={"Authorization": "Basic QjE6c2VjcmV0"})
    assert_problem(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("route", [OPEN, *ROUTES], ids=route_id)
def test_no_command_is_open_to_the_service_role(shared, route):
    assert_problem(call(shared, route, bearer(*SERVICE)), 403, "FORBIDDEN")


WRONG_ROLES = [(route, role) for route in [OPEN, *ROUTES]
               for role in ("buyer", "seller", "operator") if role not in route[3]]


@pytest.mark.parametrize("route,role", WRONG_ROLES, ids=lambda v: v if isinstance(v, str) else route_id(v))
def test_a_command_refuses_a_role_it_does_not_serve(shared, route, role):
    assert_problem(call(shared, route, bearer(*PRINCIPALS[role])), 403, "FORBIDDEN")


PARTY_ROUTES = [(route, role) for route in ROUTES for role in sorted(route[3]) if role in STRANGERS]


@pytest.mark.parametrize("route,role", PARTY_ROUTES, ids=lambda v: v if isinstance(v, str) else route_id(v))
def test_a_party_of_another_order_acting_on_the_dispute_is_told_it_does_not_exist(shared, route,
                                                                                  role):
    assert_problem(call(shared, route, bearer(*STRANGERS[role])), 404, "DISPUTE_NOT_FOUND")


def test_a_buyer_may_not_open_a_dispute_on_another_buyers_order(shared):
    assert_problem(call(shared, OPEN, bearer(*OTHER_BUYER)), 403, "FORBIDDEN")


@pytest.mark.parametrize("who", [OTHER_BUYER, OTHER_SELLER])
def test_a_party_of_another_order_cannot_even_see_that_the_dispute_exists(shared, who):
    assert_problem(shared.get("", who=who), 404, "DISPUTE_NOT_FOUND")


@pytest.mark.parametrize("who", [BUYER, SELLER, OPERATOR, SERVICE])
def test_the_parties_operators_and_services_read_the_dispute(shared, who):
    assert shared.get("", who=who).status_code == 200


def test_an_unknown_dispute_is_not_found_for_a_command(shared):
    response = shared.post("/v1/disputes/00000000-0000-0000-0000-000000000000/withdraw", json={})
    assert_problem(response, 404, "DISPUTE_NOT_FOUND")


def test_an_unknown_dispute_is_not_found_for_a_read(shared):
    response = shared.get("/v1/disputes/00000000-0000-0000-0000-000000000000")
    assert_problem(response, 404, "DISPUTE_NOT_FOUND")


def test_a_dispute_id_that_is_not_a_uuid_is_a_validation_problem(shared):
    assert_problem(shared.get("/v1/disputes/not-a-uuid"), 422, "VALIDATION_FAILED")


def test_refused_requests_recorded_nothing(shared):
    assert shared.view()["version"] == 1
