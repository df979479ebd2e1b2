"""Lists and the operators' queue read the dispute index; the deadline worker fires timers."""

from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.dispute.application.deadline_worker import DeadlineWorker
from services.dispute.application.metrics import DeadlineMetrics
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.clock import Clock
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET, bearer




@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, clock):
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=clock, run_consumers=False, run_workers=False)
    for n, buyer in enumerate(["B-1", "B-1", "B-2"]):
        app.state.orders.apply(order_placed(order_id=f"O-{n}", buyer=buyer))
    return app


@pytest.fixture
def api_with_three_disputes(app, clock):
    with TestClient(app) as client:
        for n, buyer in enumerate(["B-1", "B-1", "B-2"]):
            clock.now = NOW + timedelta(hours=n)
            body = {"order_id": f"O-{n}", "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"}
            assert client.post("/v1/disputes", json=body, headers=bearer("buyer", buyer)).status_code == 201
        app.state.projection.catch_up_once()
        yield client


def ids(response) -> list[str]:
    return [item["order_id"] for item in response.json()["items"]]


def test_a_buyer_lists_only_their_own_disputes(api_with_three_disputes):
    response = api_with_three_disputes.get("/v1/disputes", headers=bearer("buyer", "B-1"))
    assert ids(response) == ["O-0", "O-1"]


def test_a_buyer_cannot_ask_for_another_buyers_disputes(api_with_three_disputes):
    response = api_with_three_disputes.get("/v1/disputes?buyer_id=B-2", headers=bearer("buyer", "B-1"))
    assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN")


def test_an_operator_sees_every_dispute_with_counts_by_status(api_with_three_disputes):
    body = api_with_three_disputes.get("/v1/disputes", headers=bearer("operator", "OP-1")).json()
    assert len(body["items"]) == 3
    assert body["counts_by_status"] == {"AWAITING_SELLER_RESPONSE": 3}


def test_pages_follow_the_cursor_without_repeats(api_with_three_disputes):
    headers = bearer("operator", "OP-1")
    first = api_with_three_disputes.get("/v1/disputes?limit=2", headers=headers).json()
    second = api_with_three_disputes.get(f"/v1/disputes?limit=2&cursor={first['next_cursor']}",
                                         headers=headers).json()
    assert [i["order_id"] for i in first["items"] + second["items"]] == ["O-0", "O-1", "O-2"]
    assert second["next_cursor"] is None


def test_the_queue_sorts_by_nearest_deadline_and_filters_by_due_within(api_with_three_disputes):
    headers = bearer("operator", "OP-1")
    response = api_with_three_disputes.get(
        "/v1/disputes?sort=next_deadline&due_within=P4DT23H&awaiting=seller", headers=headers)
    assert ids(response) == ["O-0", "O-1"]


def test_a_forged_cursor_is_a_validation_problem(api_with_three_disputes):
    response = api_with_three_disputes.get("/v1/disputes?cursor=bm9wZQ", headers=bearer("operator", "O"))
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_the_deadline_worker_resolves_for_the_buyer_when_the_seller_never_answers(
        api_with_three_disputes, app, clock):
    clock.now = NOW + timedelta(days=5, minutes=1)
    worker = DeadlineWorker(app.state.disputes, app.state.engine, clock)
    assert worker.fire_due_once() == 1
    app.state.projection.catch_up_once()
    body = api_with_three_disputes.get("/v1/disputes?status=RESOLVED", headers=bearer("operator", "O"))
    assert ids(body) == ["O-0"]


def test_a_deadline_worker_that_runs_again_fires_nothing_twice(api_with_three_disputes, app, clock):
    clock.now = NOW + timedelta(days=5, minutes=1)
    worker = DeadlineWorker(app.state.disputes, app.state.engine, clock)
    worker.fire_due_once()
    assert worker.fire_due_once() == 0  # the index is stale, the aggregate has nothing due
    dispute_id = api_with_three_disputes.get("/v1/disputes?order_id=O-0",
                                             headers=bearer("operator", "O")).json()["items"][0]["id"]
    assert app.state.disputes.get_dispute(UUID(dispute_id)).version == 3  # Opened, DeadlineMissed, Resolved


def test_a_due_within_beyond_any_date_is_a_validation_problem_not_a_500(api_with_three_disputes):
    response = api_with_three_disputes.get("/v1/disputes?due_within=P999999999D",
                                           headers=bearer("operator", "O"))
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")


def test_one_dispute_that_fails_does_not_stop_the_other_timers(api_with_three_disputes, app, clock):
    clock.now = NOW + timedelta(days=6)
    worker = DeadlineWorker(app.state.disputes, app.state.engine, clock)
    broken = worker.due_disputes(clock.now)[0]
    fire = app.state.disputes.fire_deadlines

    def fire_except_broken(dispute_id, at):
        if dispute_id == broken:
            raise KeyError("a bug in one dispute's consequence")
        return fire(dispute_id, at)

    app.state.disputes.fire_deadlines = fire_except_broken
    assert worker.fire_due_once() == 2


def test_the_deadlines_a_worker_fires_are_counted_by_name_with_its_last_pass(
        api_with_three_disputes, app, clock):
    clock.now = NOW + timedelta(days=5, minutes=1)
    metrics = DeadlineMetrics(CollectorRegistry())
    metrics.last_pass.set(0)
    DeadlineWorker(app.state.disputes, app.state.engine, clock, metrics=metrics).fire_due_once()
    fired = {s.labels["deadline"]: s.value for s in metrics.fired.collect()[0].samples
             if s.name.endswith("_total")}
    assert sum(fired.values()) == 1 and len(fired) == 1
    assert metrics.registry.get_sample_value("dispute_deadline_worker_last_pass_timestamp_seconds") > 0


def test_a_dispute_whose_deadline_cannot_fire_is_counted_as_a_failure(api_with_three_disputes, app, clock):
    clock.now = NOW + timedelta(days=6)
    metrics = DeadlineMetrics(CollectorRegistry())
    worker = DeadlineWorker(app.state.disputes, app.state.engine, clock, metrics=metrics)

    def broken(dispute_id, at):
        raise KeyError("a bug in one dispute's consequence")

    app.state.disputes.fire_deadlines = broken
    worker.fire_due_once()
    assert metrics.registry.get_sample_value("dispute_deadline_failures_total") == 3
