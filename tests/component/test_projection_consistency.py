"""Read-your-writes: a command asked to wait answers once lists and timelines show it."""

import asyncio

import pytest
from fastapi.testclient import TestClient

from services.dispute.entrypoints.http import consistency
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET, bearer

OPEN = {"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"}


def api(tmp_path, run_workers: bool):
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=lambda: NOW, run_consumers=False, run_workers=run_workers)
    app.state.orders.apply(order_placed())
    return TestClient(app)


def test_a_command_that_prefers_to_wait_is_visible_in_lists_and_timeline_at_once(tmp_path):
    with api(tmp_path, run_workers=True) as client:
        headers = {**bearer("buyer", "B-1"), "Prefer": "wait-for-projections"}
        opened = client.post("/v1/disputes", json=OPEN, headers=headers)
        listed = client.get("/v1/disputes", headers=bearer("buyer", "B-1")).json()["items"]
        entries = client.get(f"/v1/disputes/{opened.json()['id']}/timeline",
                             headers=bearer("buyer", "B-1")).json()["entries"]
    assert opened.status_code == 201 and opened.headers["preference-applied"] == "wait-for-projections"
    assert "x-projections-lag" not in opened.headers
    assert [d["id"] for d in listed] == [opened.json()["id"]] and len(entries) == 1


def test_wait_true_in_the_query_asks_for_the_same(tmp_path):
    with api(tmp_path, run_workers=True) as client:
        opened = client.post("/v1/disputes?wait=true", json=OPEN, headers=bearer("buyer", "B-1"))
    assert opened.headers["preference-applied"] == "wait-for-projections"


def test_the_wait_is_bounded_and_says_when_the_projections_are_still_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(consistency, "DEFAULT_WAIT", 0.2)
    with api(tmp_path, run_workers=False) as client:
        opened = client.post("/v1/disputes?wait=true", json=OPEN, headers=bearer("buyer", "B-1"))
    assert opened.status_code == 201 and opened.headers["x-projections-lag"] == "true"


def test_without_asking_nobody_waits(tmp_path):
    with api(tmp_path, run_workers=False) as client:
        opened = client.post("/v1/disputes", json=OPEN, headers=bearer("buyer", "B-1"))
    assert "preference-applied" not in opened.headers and "x-projections-lag" not in opened.headers


@pytest.mark.parametrize("prefer", ["respond-async, wait-for-projections", "WAIT-FOR-PROJECTIONS"])
def test_the_preference_is_found_among_others_and_in_any_case(prefer):
    assert asyncio.run(consistency.projection_wait(wait=False, prefer=prefer)).wanted  # an async dependency
