"""The notification service in-process (SQLite, consumers off): the inbox over HTTP, who may
read what, mark-as-read, paging, and recipient profiles."""

import pytest
from fastapi.testclient import TestClient

from services.notification.consumer import handle
from services.notification.main import create_app
from services.notification.email_outbox import EmailOutbox
from services.notification.settings import NotificationSettings
from tests.support.envelopes import opened
from tests.support.tokens import SECRET, bearer


@pytest.fixture
def app(tmp_path):
    settings = NotificationSettings(database_url=f"sqlite:///{tmp_path}/n.sqlite", jwt_secret=SECRET,
                                    recipients={"seller:S-1": {"time_zone": "Europe/Berlin"}})
    return create_app(settings, run_consumers=False)


@pytest.fixture
def api(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def notified(app):
    """Two disputes opened: B-1/S-1 and B-2/S-2."""
    for envelope in (opened(), opened("B-2", "S-2")):
        handle(app.state.store, envelope)


def inbox(api, role, sub, **params):
    return api.get("/v1/notifications", headers=bearer(role, sub), params=params)


def test_reading_the_inbox_needs_a_token(api):
    assert inbox(api, "seller", "S-1").status_code == 200
    response = api.get("/v1/notifications")
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")


def test_a_seller_reads_only_their_own_notifications(api, notified):
    items = inbox(api, "seller", "S-1").json()["items"]
    assert [i["recipient"] for i in items] == ["S-1"] and "O-1" in items[0]["subject"]


def test_a_party_asking_for_someone_elses_inbox_is_forbidden(api, notified):
    response = inbox(api, "buyer", "B-1", recipient="S-1")
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_an_operator_reads_every_inbox(api, notified):
    items = inbox(api, "operator", "OP-1").json()["items"]
    assert sorted(i["recipient"] for i in items) == ["B-1", "B-2", "S-1", "S-2"]


def test_an_operator_may_read_one_recipients_inbox(api, notified):
    assert [i["recipient"] for i in inbox(api, "operator", "OP-1", recipient="B-2").json()["items"]] == ["B-2"]


def test_times_are_utc_rfc3339(api, notified):
    item = inbox(api, "seller", "S-1").json()["items"][0]
    assert item["created_at"].endswith("Z") and item["read_at"] is None


def test_a_seller_with_a_time_zone_reads_deadlines_in_it(api, notified):
    assert "15 Mar 13:00 CET" in inbox(api, "seller", "S-1").json()["items"][0]["body"]


def test_marking_a_notification_read_records_when(api, notified):
    item = inbox(api, "seller", "S-1").json()["items"][0]
    assert api.post(f"/v1/notifications/{item['id']}/read", headers=bearer("seller", "S-1")).status_code == 204
    assert inbox(api, "seller", "S-1").json()["items"][0]["read_at"].endswith("Z")


def test_marking_someone_elses_notification_read_is_not_found(api, notified):
    item = inbox(api, "seller", "S-1").json()["items"][0]
    response = api.post(f"/v1/notifications/{item['id']}/read", headers=bearer("seller", "S-2"))
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")


def test_the_unread_filter_leaves_out_what_was_read(api, notified):
    item = inbox(api, "seller", "S-1").json()["items"][0]
    api.post(f"/v1/notifications/{item['id']}/read", headers=bearer("operator", "OP-1"))
    assert inbox(api, "seller", "S-1", unread="true").json()["items"] == []


def test_pages_follow_the_cursor_until_every_notification_was_seen(app, api):
    for _ in range(5):
        handle(app.state.store, opened("B-9", "S-9"))
    first = inbox(api, "seller", "S-9", limit=2).json()
    second = inbox(api, "seller", "S-9", limit=2, cursor=first["next_cursor"]).json()
    third = inbox(api, "seller", "S-9", limit=2, cursor=second["next_cursor"]).json()
    ids = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert len(ids) == 5 == len(set(ids)) and third["next_cursor"] is None


def test_a_forged_cursor_is_refused(api):
    response = inbox(api, "seller", "S-1", cursor="bm9wZQ")
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_a_principal_sets_its_email_and_time_zone(api):
    body = {"email": "b1@shop.example", "time_zone": "Asia/Tokyo"}
    assert api.put("/v1/recipients/me", json=body, headers=bearer("buyer", "B-1")).status_code == 200
    assert api.get("/v1/recipients/me", headers=bearer("buyer", "B-1")).json() == {
        "recipient_id": "B-1", "recipient_role": "buyer", **body}


def test_an_unknown_time_zone_is_refused(api):
    response = api.put("/v1/recipients/me", json={"time_zone": "Mars/Olympus"},
                       headers=bearer("buyer", "B-1"))
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_an_opened_dispute_queues_one_email_per_party(app, notified):
    emails = EmailOutbox(app.state.store.engine).emails()
    assert sorted(e["to_address"] for e in emails) == [
        "B-1@example.invalid", "B-2@example.invalid", "S-1@example.invalid", "S-2@example.invalid"]


def test_the_inbox_answers_304_to_the_etag_it_gave(api, notified):
    first = api.get("/v1/notifications", headers=bearer("seller", "S-1"))
    again = api.get("/v1/notifications", headers={**bearer("seller", "S-1"),
                                                  "If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.content) == (304, b"")


def test_the_inbox_document_declares_its_errors_and_the_bearer_scheme(api):
    document = api.get("/openapi.json").json()
    listing = document["paths"]["/v1/notifications"]["get"]
    assert listing["operationId"] == "list_notifications" and listing["security"] == [{"bearer": []}]
    codes = listing["responses"]["403"]["content"]["application/problem+json"]["schema"]
    assert codes["properties"]["code"]["enum"] == ["FORBIDDEN"]
    assert "304" in listing["responses"]


def test_an_email_address_holding_a_nul_character_is_refused(api):
    response = api.put("/v1/recipients/me", json={"email": "a\u0000b@example.com"},
                       headers=bearer("buyer", "B-1"))
    assert response.status_code == 422
