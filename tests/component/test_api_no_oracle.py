"""No existence oracle (issue 9, point 5): a buyer or seller who is not a party to a dispute
gets exactly the answer of a dispute that does not exist, whatever they send and before their
body is read; dispute ids cannot be computed from an order and item; disputes opened under
the former uuid5 ids keep working."""

import asyncio
from uuid import UUID

import pytest

from services.dispute.entrypoints.kafka_subscribers import note_outside_refund
from services.dispute.domain import Actor, Dispute, Role, former_dispute_id, keyed_dispute_id
from services.dispute.settings import DisputeSettings
from tests.component.test_api_auth import OFFER, ROUTES
from tests.component.test_api_support import (
    BUYER, OPENING, OTHER_BUYER, OTHER_SELLER, PNG, SELLER, Clock, running_api, settings_for,
)
from tests.component.test_outside_refunds_on_disputes import refunded
from tests.support.orders import NOW, order_placed
from tests.support.tokens import bearer

STRANGERS = [OTHER_BUYER, OTHER_SELLER]
MISSING = "8f0c1d9e-5b7a-4c3e-9a2f-6d4e1b0c7a55"
COMMANDS = [(path, body) for _, path, body, _ in ROUTES]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("oracle"), Clock(), order_placed()) as api:
        api.open()
        yield api


def command(api, dispute_id: str, path: str, who, *, body=None, raw: bytes | None = None):
    url = f"/v1/disputes/{dispute_id}{path}"
    headers = bearer(*who)
    if raw is not None:
        return api.client.post(url, content=raw, headers={**headers,
                                                          "content-type": "application/json"})
    if path == "/evidence":
        return api.client.post(url, headers=headers, files={"file": ("a.png", PNG, "image/png")})
    return api.client.post(url, json=body, headers=headers)


def answer(response, dispute_id: str) -> tuple:
    """Status, body and headers, with the id the caller sent (and so knows) blanked out."""
    text = response.text.replace(dispute_id, "<id>")
    return response.status_code, text, sorted(response.headers.items())


@pytest.mark.parametrize("who", STRANGERS, ids=lambda w: w[0])
@pytest.mark.parametrize("path,body", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_a_strangers_command_on_a_dispute_answers_as_for_a_missing_one(shared, path, body, who):
    existing = answer(command(shared, shared.dispute_id, path, who, body=body), shared.dispute_id)
    missing = answer(command(shared, MISSING, path, who, body=body), MISSING)
    assert existing == missing and existing[0] == 404 and "DISPUTE_NOT_FOUND" in existing[1]


@pytest.mark.parametrize("who", STRANGERS, ids=lambda w: w[0])
@pytest.mark.parametrize("path", ["/offers", "/decision", "/messages", "/appeals"])
@pytest.mark.parametrize("raw", [b"{not json", b'{"amount": [1, 2], "unknown": true}'],
                         ids=["malformed", "invalid"])
def test_a_strangers_invalid_body_still_answers_as_for_a_missing_dispute(shared, path, who, raw):
    existing = command(shared, shared.dispute_id, path, who, raw=raw)
    missing = command(shared, MISSING, path, who, raw=raw)
    assert answer(existing, shared.dispute_id) == answer(missing, MISSING)
    assert existing.status_code == 404


def test_every_command_on_a_dispute_is_among_those_tried_by_a_stranger_above(shared):
    paths = shared.app.openapi()["paths"]
    commands = [p for p, methods in paths.items() if "{dispute_id}" in p and "post" in methods]
    assert len(commands) == len(COMMANDS)


def test_a_party_keeps_its_validation_answer(shared):
    response = command(shared, shared.dispute_id, "/offers", SELLER, raw=b"{not json")
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_a_party_calling_an_operator_command_is_still_forbidden(shared):
    response = command(shared, shared.dispute_id, "/decision", BUYER, body={"outcome": "SELLER_FAVOUR"})
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_a_strangers_upload_is_refused_before_a_byte_of_its_body_is_received(shared):
    received = []

    async def receive():
        received.append(True)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    path = f"/v1/disputes/{shared.dispute_id}/evidence"
    headers = [(k.lower().encode(), v.encode()) for k, v in bearer(*OTHER_BUYER).items()]
    headers += [(b"content-type", b"multipart/form-data; boundary=x")]
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": headers, "scheme": "http", "http_version": "1.1",
             "server": ("testserver", 80), "client": ("testclient", 5000), "root_path": "",
             "app": shared.app, "state": {}}
    asyncio.run(shared.app(scope, receive, send))
    assert sent[0]["status"] == 404 and received == []


def test_a_new_dispute_id_is_keyed_not_the_uuid5_of_order_and_item(shared):
    key = settings_for(shared.folder).id_key.encode()
    dispute_id = UUID(shared.dispute_id)
    assert dispute_id == keyed_dispute_id(key, "O-1", "I-1")
    assert dispute_id != former_dispute_id("O-1", "I-1")


def test_another_id_key_gives_the_same_item_another_dispute_id(tmp_path):
    settings = settings_for(tmp_path).model_copy(update={"id_key": "another-server-key"})
    assert settings.dispute_ids().for_new_dispute("O-1", "I-1") != keyed_dispute_id(
        settings_for(tmp_path).id_key.encode(), "O-1", "I-1")


def test_the_id_key_comes_from_dispute_id_key(monkeypatch):
    monkeypatch.setenv("DISPUTE_ID_KEY", "from-the-environment")
    assert DisputeSettings().dispute_ids() == DisputeSettings(id_key="from-the-environment").dispute_ids()


@pytest.fixture
def api_with_a_former_uuid5_dispute(tmp_path):
    """A dispute stored as before keyed ids: its events under uuid5(order, item)."""
    with running_api(tmp_path, Clock(), order_placed()) as api:
        disputes = api.app.state.disputes
        old = Dispute.open(dispute_id=former_dispute_id("O-1", "I-1"),
                           order=api.app.state.orders.facts("O-1"), item_id="I-1",
                           actor=Actor(Role.BUYER, "B-1"), reason="DAMAGED",
                           request="FULL_REFUND", request_amount=None, description="old", at=NOW,
                           policy=disputes.policy)
        disputes.save(old)
        api.dispute_id = str(old.id)
        yield api


def test_a_former_uuid5_dispute_still_loads_and_is_found_by_its_id(api_with_a_former_uuid5_dispute):
    api = api_with_a_former_uuid5_dispute
    view = api.ok(api.get("", who=BUYER))
    assert (view["id"], view["description"]) == (str(former_dispute_id("O-1", "I-1")), "old")
    made = api.ok(api.post("/offers", json=OFFER, who=SELLER), 201)
    assert made["dispute"]["id"] == view["id"] and len(made["dispute"]["offers"]) == 1


def test_a_former_uuid5_dispute_blocks_a_second_dispute_on_its_item(api_with_a_former_uuid5_dispute):
    api = api_with_a_former_uuid5_dispute
    response = api.post("/v1/disputes", json=OPENING, who=BUYER)
    assert (response.status_code, response.json()["code"]) == (409, "DISPUTE_ALREADY_EXISTS_FOR_ITEM")
    assert response.json()["existing_dispute_id"] == api.dispute_id


def test_a_withdrawn_former_uuid5_dispute_still_closes_its_item(api_with_a_former_uuid5_dispute):
    api = api_with_a_former_uuid5_dispute
    api.ok(api.post("/withdraw", json={}, who=BUYER))
    response = api.post("/v1/disputes", json=OPENING, who=BUYER)
    assert (response.status_code, response.json()["code"]) == (409, "DISPUTE_PREVIOUSLY_CLOSED_FOR_ITEM")


def test_an_order_refund_reaches_a_former_uuid5_dispute(api_with_a_former_uuid5_dispute):
    api = api_with_a_former_uuid5_dispute
    book = api.app.state.orders
    event = refunded("25.00")
    book.apply(event)
    note_outside_refund(book, api.app.state.disputes, event, now=lambda: event.refunded_at)
    assert api.ok(api.get(""))["refundable_amount"] == "75.00"
