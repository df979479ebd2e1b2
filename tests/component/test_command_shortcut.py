"""A well-formed command is read by hand (command_route.py), anything unusual the whole way
through FastAPI, with the same answers."""

import asyncio
from types import SimpleNamespace

import fastapi.routing
import pytest

from services.dispute.entrypoints.http import command_route
from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER
from tests.support.tokens import bearer


@pytest.fixture
def solved(monkeypatch):
    """How many times FastAPI solved a route's dependencies."""
    calls = []
    original = fastapi.routing.solve_dependencies

    async def counting(*args, **kwargs):
        calls.append(kwargs.get("request"))
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return calls


def test_a_well_formed_command_is_answered_without_fastapis_dependency_graph(
        api_with_dispute_awaiting_seller, solved):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "where is it?"}, headers={"Idempotency-Key": "k-1"})
    assert (response.status_code, len(solved)) == (201, 0)
    assert response.json()["message"]["text"] == "where is it?"
    assert response.headers["etag"] and response.headers["location"]


def test_a_replayed_key_gets_the_same_answer_the_short_way(api_with_dispute_awaiting_seller, solved):
    api = api_with_dispute_awaiting_seller
    first = api.post("/messages", json={"text": "hello"}, headers={"Idempotency-Key": "k-2"})
    again = api.post("/messages", json={"text": "hello"}, headers={"Idempotency-Key": "k-2"})
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(solved) == 0


def test_an_invalid_body_goes_through_fastapi_and_keeps_its_validation_answer(
        api_with_dispute_awaiting_seller, solved):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": ""})
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")
    assert response.json()["errors"][0]["loc"] == ["body", "text"]
    assert len(solved) == 1


def test_a_body_that_is_not_json_goes_through_fastapi(api_with_dispute_awaiting_seller, solved):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", content=b'{"text": "hi"}', headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")
    assert len(solved) == 1


def test_a_command_asking_to_wait_goes_through_fastapi_and_waits(api_with_dispute_awaiting_seller, solved):
    api = api_with_dispute_awaiting_seller
    response = api.client.post(api.url("/messages") + "?wait=true", json={"text": "hi"},
                               headers=bearer(*BUYER))
    assert response.status_code == 201
    assert response.headers["preference-applied"] == "wait-for-projections"
    assert len(solved) == 1


def test_an_overlong_idempotency_key_keeps_fastapis_answer(api_with_dispute_awaiting_seller, solved):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "hi"}, headers={"Idempotency-Key": "k" * 256})
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")
    assert len(solved) == 1


def test_a_stale_if_match_is_refused_the_short_way_as_before(api_with_dispute_awaiting_seller, solved):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json={"text": "hi"}, headers={"If-Match": '"0"'})
    assert (response.status_code, response.json()["code"]) == (412, "CONCURRENCY_CONFLICT")
    assert len(solved) == 0


def test_a_command_endpoint_that_answers_with_a_value_fails_instead_of_running_twice(monkeypatch):
    ran = []

    async def endpoint(body, call):
        ran.append(body)
        return {"not": "a response"}

    async def given(_request):
        return {"text": "hi"}

    shortcut = command_route.Shortcut(endpoint, SimpleNamespace(name="body"), "call", ())
    monkeypatch.setattr(shortcut, "_body", given)
    monkeypatch.setattr(command_route, "_plain_call", given)
    with pytest.raises(TypeError):
        asyncio.run(shortcut.answer(SimpleNamespace(path_params={})))
    assert ran == [{"text": "hi"}]
