"""The commands on one dispute are found by (method, action) (command_paths.py), the same
routes FastAPI's matching finds, with the same answers and metrics."""

from uuid import uuid4

import fastapi.routing
from starlette.routing import Match

from services.dispute.entrypoints.http.command_paths import command_contexts
from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER
from tests.support.tokens import bearer


def fastapi_route(app, method: str, path: str):
    """The route FastAPI's own matching chooses for this request."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [],
             "query_string": b""}
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            while isinstance(route, fastapi.routing._IncludedRouter):
                match, _, route, context = route._match(scope)
            return route
    return None


def test_every_command_found_by_its_action_is_the_route_fastapi_matches(api):
    table = command_contexts(api.app.router)
    assert ("POST", "messages") in table and ("POST", "offers") in table
    for (method, action), context in table.items():
        path = f"/v1/disputes/{uuid4()}/{action}"
        assert fastapi_route(api.app, method, path) is context.original_route, path


def test_a_command_is_not_matched_route_by_route(api_with_dispute_awaiting_seller, monkeypatch):
    api, matched = api_with_dispute_awaiting_seller, []
    real = fastapi.routing._IncludedRouter._match
    monkeypatch.setattr(fastapi.routing._IncludedRouter, "_match",
                        lambda self, scope: matched.append(scope["path"]) or real(self, scope))
    assert api.post("/messages", json={"text": "hi"}).status_code == 201
    assert matched == []


def test_a_command_found_by_its_action_is_counted_under_its_route_template(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert api.post("/messages", json={"text": "hi"}).status_code == 201
    metrics = api.client.get("/metrics").text
    assert 'handler="/v1/disputes/{dispute_id}/messages",method="POST",status="201"' in metrics


def test_a_dispute_id_that_is_not_a_uuid_is_routed_by_fastapi_as_before(api):
    response = api.client.post("/v1/disputes/not-a-uuid/messages", json={"text": "hi"},
                               headers=bearer(*BUYER))
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_an_unknown_action_on_a_dispute_is_not_found(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/no-such-action", json={})
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
