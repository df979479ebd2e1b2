"""Identities that cannot collide (issue 9, point 4), in-process (SQLite, consumers off): a
principal is (role, id) in the inbox and the profiles; the operators' shared inbox is for
operators only and its address comes from configuration alone."""

from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from contracts.envelope import ActorRef, EventEnvelope, event_id_for
from services.notification.consumer import handle
from services.notification.main import create_app, notify_config
from services.notification.email_outbox import EmailOutbox
from services.notification.settings import NotificationSettings
from tests.support.envelopes import opened
from tests.support.orders import NOW
from tests.support.tokens import SECRET, bearer

OPERATORS_EMAIL = "disputes-team@platform.example"
EVIL = "attacker@evil.example"


def settings_for(tmp_path, **changes) -> NotificationSettings:
    return NotificationSettings(**{"database_url": f"sqlite:///{tmp_path}/n.sqlite",
                                   "jwt_secret": SECRET, "operators_email": OPERATORS_EMAIL,
                                   **changes})


@pytest.fixture
def service(tmp_path):
    app = create_app(settings_for(tmp_path), run_consumers=False)
    with TestClient(app) as client:
        yield app, client


def escalated(dispute_id: UUID) -> EventEnvelope:
    """Both parties and the operators' shared inbox are told."""
    return EventEnvelope(
        event_id=event_id_for(dispute_id, 2), event_type="Escalated", schema_version=1,
        dispute_id=dispute_id, dispute_version=2, occurred_at=NOW, correlation_id="c-2",
        actor=ActorRef(role="buyer", id="B-1"),
        payload={"trigger": "BUYER_REQUEST", "automatic": False, "note": ""})


def escalate_a_dispute(app, buyer="B-1", seller="S-1", settings=None) -> None:
    first = opened(buyer, seller)
    for event in (first, escalated(first.dispute_id)):
        handle(app.state.store, event, notify_config(settings))


def inbox(client, role, sub, **params):
    response = client.get("/v1/notifications", headers=bearer(role, sub), params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def operator_mails(app) -> list[str]:
    return [e["to_address"] for e in EmailOutbox(app.state.store.engine).emails()
            if e["recipient"] == "operators:operators"]


def test_a_buyer_token_named_operators_does_not_read_the_operators_inbox(service, tmp_path):
    app, client = service
    escalate_a_dispute(app, settings=settings_for(tmp_path))
    assert [i["recipient_role"] for i in inbox(client, "operator", "OP-1", recipient="operators")] == [
        "operators"]
    assert inbox(client, "buyer", "operators") == []
    assert inbox(client, "buyer", "operators", recipient="operators") == []


def test_a_buyer_asking_for_the_operators_role_is_forbidden(service):
    _, client = service
    response = client.get("/v1/notifications", headers=bearer("buyer", "operators"),
                          params={"recipient_role": "operators"})
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_a_buyer_token_named_operators_cannot_mark_the_operators_notifications_read(service,
                                                                                     tmp_path):
    app, client = service
    escalate_a_dispute(app, settings=settings_for(tmp_path))
    [item] = inbox(client, "operator", "OP-1", recipient="operators")
    response = client.post(f"/v1/notifications/{item['id']}/read", headers=bearer("buyer", "operators"))
    assert response.status_code == 404
    assert inbox(client, "operator", "OP-1", recipient="operators")[0]["read_at"] is None


def test_a_buyer_token_named_operators_cannot_redirect_the_operators_mail(service, tmp_path):
    app, client = service
    response = client.put("/v1/recipients/me", json={"email": EVIL},
                          headers=bearer("buyer", "operators"))
    assert response.status_code == 200 and response.json()["recipient_role"] == "buyer"
    escalate_a_dispute(app, settings=settings_for(tmp_path))
    assert operator_mails(app) == [OPERATORS_EMAIL]


def test_the_redirect_attempt_does_not_outlive_a_restart_either(service, tmp_path):
    _, client = service
    client.put("/v1/recipients/me", json={"email": EVIL}, headers=bearer("buyer", "operators"))
    restarted = create_app(settings_for(tmp_path), run_consumers=False)
    escalate_a_dispute(restarted, settings=settings_for(tmp_path))
    assert operator_mails(restarted) == [OPERATORS_EMAIL]


def test_an_operator_cannot_set_the_operators_address_through_the_api(service):
    _, client = service
    response = client.put("/v1/recipients/me", json={"email": EVIL}, headers=bearer("operator", "OP-1"))
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")
    assert "NOTIFICATION_OPERATORS_EMAIL" in response.json()["detail"]


def test_the_operators_address_follows_the_configuration_after_a_change(tmp_path):
    create_app(settings_for(tmp_path), run_consumers=False)
    changed = settings_for(tmp_path, operators_email="new-team@platform.example")
    app = create_app(changed, run_consumers=False)
    escalate_a_dispute(app, settings=changed)
    assert operator_mails(app) == ["new-team@platform.example"]


def test_a_seller_with_a_buyers_id_does_not_read_that_buyers_inbox(service, tmp_path):
    app, client = service
    escalate_a_dispute(app, buyer="P-1", seller="S-1", settings=settings_for(tmp_path))
    assert len(inbox(client, "buyer", "P-1")) == 2
    assert inbox(client, "seller", "P-1") == []
    assert inbox(client, "seller", "P-1", recipient="P-1") == []


def test_a_seller_with_a_buyers_id_cannot_mark_that_buyers_notification_read(service, tmp_path):
    app, client = service
    escalate_a_dispute(app, buyer="P-1", seller="S-1", settings=settings_for(tmp_path))
    item = inbox(client, "buyer", "P-1")[0]
    response = client.post(f"/v1/notifications/{item['id']}/read", headers=bearer("seller", "P-1"))
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")


def test_a_seller_with_a_buyers_id_sets_only_its_own_address(service, tmp_path):
    app, client = service
    client.put("/v1/recipients/me", json={"email": "buyer@home.example"}, headers=bearer("buyer", "P-1"))
    client.put("/v1/recipients/me", json={"email": EVIL}, headers=bearer("seller", "P-1"))
    handle(app.state.store, opened("P-1", "S-1"), notify_config(settings_for(tmp_path)))
    to_buyer = [e["to_address"] for e in EmailOutbox(app.state.store.engine).emails()
                if e["recipient"] == "buyer:P-1"]
    assert to_buyer == ["buyer@home.example"]
    assert client.get("/v1/recipients/me", headers=bearer("buyer", "P-1")).json()["email"] == (
        "buyer@home.example")


def test_seeded_profiles_must_name_their_role(tmp_path):
    with pytest.raises(ValidationError, match="NOTIFICATION_RECIPIENTS"):
        settings_for(tmp_path, recipients={"S-1": {"email": "s1@shop.example"}})


def test_a_seeded_profile_is_the_profile_of_that_role_only(tmp_path):
    settings = settings_for(tmp_path, recipients={"seller:P-1": {"email": "shop@p1.example"}})
    app = create_app(settings, run_consumers=False)
    handle(app.state.store, opened("P-1", "P-1"), notify_config(settings))
    assert sorted((e["recipient"], e["to_address"]) for e in EmailOutbox(app.state.store.engine).emails()) == [
        ("buyer:P-1", "P-1@example.invalid"), ("seller:P-1", "shop@p1.example")]
