"""HTTP errors a client can act on: a database away answers 503 with Retry-After, never a 500
(issue 12: a PostgreSQL restart under load answered 500 `unhandled_error`, AdminShutdown)."""

import psycopg
import pytest
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy.exc import OperationalError

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import SELLER
from tests.support.tokens import bearer

OUTAGES = [psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
           StoreOperationalError("connection refused"),
           OperationalError("SELECT 1", {}, Exception("server closed the connection"))]


@pytest.mark.parametrize("outage", OUTAGES, ids=lambda e: type(e).__name__)
def test_a_read_during_a_database_outage_is_503_with_retry_after(api_with_dispute_awaiting_seller,
                                                                  monkeypatch, outage):
    api = api_with_dispute_awaiting_seller

    def away(*_args, **_kwargs):
        raise outage

    monkeypatch.setattr(api.app.state.disputes, "get_dispute", away)
    response = api.get("")
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "2"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"


def test_a_command_during_an_outage_is_503_and_its_idempotency_key_can_be_retried(
        api_with_dispute_awaiting_seller, monkeypatch):
    api = api_with_dispute_awaiting_seller
    recorder = api.app.state.disputes.recorder  # the command writer stores through it
    insert = recorder.insert_events

    def away(*_args, **_kwargs):
        raise psycopg.errors.AdminShutdown("the database system is shutting down")

    monkeypatch.setattr(recorder, "insert_events", away)
    body, key = {"type": "PARTIAL_REFUND", "amount": "30.00"}, {"Idempotency-Key": "k-outage"}
    refused = api.post("/offers", json=body, who=SELLER, headers=key)
    assert (refused.status_code, refused.headers.get("Retry-After")) == (503, "2"), refused.text
    monkeypatch.setattr(recorder, "insert_events", insert)
    retried = api.post("/offers", json=body, who=SELLER, headers=key)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers  # it ran now: nothing was kept before


def test_a_method_a_route_does_not_take_is_405_with_allow(api_with_dispute_awaiting_seller):
    """RFC 9110: a 405 names the methods the resource takes (schemathesis flagged it)."""
    api = api_with_dispute_awaiting_seller
    response = api.client.delete(api.url(""), headers=bearer(*SELLER))
    assert response.status_code == 405, response.text
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]
