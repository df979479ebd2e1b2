"""GET /v1/disputes/{id}/timeline: in order, in words, per audience, and as it stood then."""

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.dispute.domain import Actor, Role
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.clock import Clock
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET, bearer

SELLER, OPERATOR = Actor(Role.SELLER, "S-1"), Actor(Role.OPERATOR, "OP-1")
OPEN = {"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"}




@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, clock):
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=clock, run_consumers=False, run_workers=False)
    app.state.orders.apply(order_placed())
    app.state.orders.apply(order_placed(order_id="O-2", buyer="B-2", seller="S-2"))
    return app


@pytest.fixture
def dispute_with_an_offer_and_an_internal_note(app, clock):
    """Opened at NOW; the seller offers 30.00 a day later; the operator notes something after."""
    with TestClient(app) as client:
        opened = client.post("/v1/disputes", json=OPEN, headers=bearer("buyer", "B-1")).json()
        disputes, dispute_id = app.state.disputes, UUID(opened["id"])
        at = NOW + timedelta(days=1)
        disputes.execute(dispute_id, at, lambda d: d.make_offer(
            offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"), actor=SELLER,
            at=at, policy=disputes.policy))
        later = at + timedelta(hours=2)
        disputes.execute(dispute_id, later, lambda d: d.post_message(
            message_id="M-1", text="seller looks honest", visibility="PLATFORM_ONLY",
            actor=OPERATOR, at=later))
        app.state.timeline.catch_up()
        yield client, opened["id"]


def timeline(client, dispute_id, role, sub, query=""):
    return client.get(f"/v1/disputes/{dispute_id}/timeline{query}", headers=bearer(role, sub))


def test_the_operator_sees_every_entry_in_order_with_who_and_when(dispute_with_an_offer_and_an_internal_note):
    client, dispute_id = dispute_with_an_offer_and_an_internal_note
    entries = timeline(client, dispute_id, "operator", "OP-1").json()["entries"]
    assert [e["event_type"] for e in entries] == ["DisputeOpened", "SellerResponded", "OfferMade", "MessagePosted"]
    assert [e["version"] for e in entries] == [1, 2, 3, 4]
    assert entries[2]["actor"] == {"role": "seller", "id": "S-1"}
    assert entries[2]["at"] == "2026-03-11T12:00:00Z"


def test_an_offer_reads_as_one_sentence_with_amount_currency_and_deadline(dispute_with_an_offer_and_an_internal_note):
    client, dispute_id = dispute_with_an_offer_and_an_internal_note
    offer = timeline(client, dispute_id, "buyer", "B-1").json()["entries"][2]
    assert offer["summary"] == ("Seller offered a partial refund of 30.00 USD; "
                                "the buyer has until 16 Mar 12:00 UTC to answer")
    assert offer["details"]["amount"] == "30.00" and offer["details"]["offer_id"] == "OF-1"


def test_parties_never_see_the_platforms_internal_notes(dispute_with_an_offer_and_an_internal_note):
    client, dispute_id = dispute_with_an_offer_and_an_internal_note
    for role, sub in (("buyer", "B-1"), ("seller", "S-1")):
        entries = timeline(client, dispute_id, role, sub).json()["entries"]
        assert "MessagePosted" not in [e["event_type"] for e in entries]


def test_a_party_of_another_order_gets_not_found(dispute_with_an_offer_and_an_internal_note):
    client, dispute_id = dispute_with_an_offer_and_an_internal_note
    response = timeline(client, dispute_id, "buyer", "B-2")
    assert (response.status_code, response.json()["code"]) == (404, "DISPUTE_NOT_FOUND")


def test_as_of_returns_the_timeline_as_it_stood_then(dispute_with_an_offer_and_an_internal_note):
    client, dispute_id = dispute_with_an_offer_and_an_internal_note
    body = timeline(client, dispute_id, "operator", "OP-1", "?as_of=2026-03-10T18:00:00Z").json()
    assert [e["event_type"] for e in body["entries"]] == ["DisputeOpened"]


def test_as_of_without_a_time_zone_is_a_validation_problem(dispute_with_an_offer_and_an_internal_note):
    client, dispute_id = dispute_with_an_offer_and_an_internal_note
    response = timeline(client, dispute_id, "operator", "OP-1", "?as_of=2026-03-10T18:00:00")
    assert response.status_code == 422


def test_an_as_of_before_the_first_year_is_a_validation_problem_not_a_500(
        dispute_with_an_offer_and_an_internal_note):
    client, dispute_id = dispute_with_an_offer_and_an_internal_note
    response = timeline(client, dispute_id, "operator", "OP-1", "?as_of=0001-01-01T00:00:00%2B05:00")
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_an_unknown_dispute_has_no_timeline(app):
    with TestClient(app) as client:
        response = timeline(client, "00000000-0000-0000-0000-000000000000", "operator", "OP-1")
    assert response.status_code == 404
