"""Reads give the version as ETag; If-Match and expected_version refuse stale writes."""

from eventsourcing.persistence import IntegrityError

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, SELLER

OFFER = {"type": "PARTIAL_REFUND", "amount": "30.00"}


def problem(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_a_read_gives_the_version_as_etag(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    response = api.get("", who=BUYER)
    assert response.headers["etag"] == f'"{response.json()["version"]}"'


def test_a_write_with_the_current_etag_goes_through(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    etag = api.get("", who=SELLER).headers["etag"]
    assert api.post("/offers", json=OFFER, who=SELLER, headers={"If-Match": etag}).status_code == 201


def test_a_weak_etag_of_the_current_version_goes_through(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/offers", json=OFFER, who=SELLER, headers={"If-Match": 'W/"1"'})
    assert response.status_code == 201


def test_a_write_with_a_stale_etag_is_a_failed_precondition(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    response = api.post("/withdraw", headers={"If-Match": '"1"'})
    assert problem(response) == (412, "CONCURRENCY_CONFLICT")
    assert response.json()["current_version"] == api.view()["version"]
    assert api.view()["status"] == "AWAITING_BUYER_RESPONSE"


def test_an_etag_that_is_no_version_never_matches(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.post("/withdraw", headers={"If-Match": '"abc"'})) == (412, "CONCURRENCY_CONFLICT")


def test_an_etag_of_non_ascii_digits_never_matches_and_is_no_server_error(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/withdraw", headers={"If-Match": '"\u00b2"'.encode("latin-1")})
    assert problem(response) == (412, "CONCURRENCY_CONFLICT")


def test_if_match_star_matches_any_version(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    assert api.post("/withdraw", headers={"If-Match": "*"}).status_code == 200


def test_a_stale_expected_version_in_the_body_is_a_conflict(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    response = api.post("/withdraw", json={"expected_version": 1})
    assert problem(response) == (409, "CONCURRENCY_CONFLICT")


def test_the_current_expected_version_goes_through(api_with_dispute_awaiting_buyer):
    api = api_with_dispute_awaiting_buyer
    version = api.view()["version"]
    assert api.post("/withdraw", json={"expected_version": version}).status_code == 200


def test_if_match_and_expected_version_must_agree(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/withdraw", json={"expected_version": 1}, headers={"If-Match": '"2"'})
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_a_write_that_loses_a_race_is_a_conflict_even_with_if_match(api_with_dispute_awaiting_seller, monkeypatch):
    api = api_with_dispute_awaiting_seller

    def lost_race(*_args, **_kwargs):
        raise IntegrityError("another writer saved this version first")

    monkeypatch.setattr(api.app.state.disputes.recorder, "insert_events", lost_race)
    response = api.post("/withdraw", headers={"If-Match": '"1"'})
    assert problem(response) == (409, "CONCURRENCY_CONFLICT")


def test_a_command_may_ask_to_wait_for_the_projections(api_with_dispute_awaiting_seller, monkeypatch):
    monkeypatch.setattr("services.dispute.entrypoints.http.consistency.DEFAULT_WAIT", 0.05)
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "hi"}, headers={"Prefer": "wait-for-projections"})
    assert response.headers["preference-applied"] == "wait-for-projections"
