"""The API over an event store of two shards (two SQLite files): each dispute is stored in
its own shard, commands on either work unchanged, and lists, timelines, read-your-writes and
deadlines cover both."""

from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.dispute.adapters.shards import shard_apps
from services.dispute.application.deadline_worker import DeadlineWorker
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.clock import Clock
from tests.support.orders import NOW, order_placed
from tests.support.shards import orders_per_shard
from tests.support.tokens import SECRET, bearer

BUYER = bearer("buyer", "B-1")
OPERATOR = bearer("operator", "OP-1")


@pytest.fixture
def settings(tmp_path):
    return DisputeSettings(database_url=f"sqlite:///{tmp_path}/service.sqlite", jwt_secret=SECRET,
                           shard_urls=f"sqlite:///{tmp_path}/s0.sqlite,sqlite:///{tmp_path}/s1.sqlite")


@pytest.fixture
def orders(settings):
    return orders_per_shard(settings, shards=2, per_shard=2)


def sharded_api(settings, orders, clock=lambda: NOW, run_workers=False) -> TestClient:
    app = create_app(settings, clock=clock, run_consumers=False, run_workers=run_workers)
    for order_id in orders[0] + orders[1]:
        app.state.orders.apply(order_placed(order_id=order_id))
    return TestClient(app)


def open_dispute(client, order_id, headers=BUYER) -> dict:
    opened = client.post("/v1/disputes", json={"order_id": order_id, "item_id": "I-1",
                                               "reason": "DAMAGED", "request": "FULL_REFUND"},
                         headers=headers)
    assert opened.status_code == 201, opened.text
    return opened.json()


def stored_in(app, dispute_id: str) -> list[int]:
    """The shards whose event store holds events of the dispute."""
    return [i for i, shard in enumerate(shard_apps(app.state.disputes))
            if shard.recorder.select_events(UUID(dispute_id))]


def test_each_dispute_is_stored_in_its_own_shard_only(settings, orders):
    with sharded_api(settings, orders) as client:
        opened = {shard: [open_dispute(client, o)["id"] for o in orders[shard]] for shard in (0, 1)}
        assert {shard: [stored_in(client.app, d) for d in ids] for shard, ids in opened.items()} == {
            0: [[0], [0]], 1: [[1], [1]]}


def test_commands_and_reads_work_on_the_disputes_of_both_shards(settings, orders):
    with sharded_api(settings, orders) as client:
        for shard in (0, 1):
            dispute_id = open_dispute(client, orders[shard][0])["id"]
            posted = client.post(f"/v1/disputes/{dispute_id}/messages", json={"text": f"shard {shard}"},
                                 headers={**bearer("seller", "S-1"), "If-Match": '"1"'})
            assert posted.status_code == 201, posted.text
            view = client.get(f"/v1/disputes/{dispute_id}", headers=BUYER)
            assert (view.status_code, view.headers["etag"]) == (200, '"2"')


def test_a_second_dispute_on_an_item_is_refused_whichever_shard_holds_it(settings, orders):
    with sharded_api(settings, orders) as client:
        for shard in (0, 1):
            open_dispute(client, orders[shard][0])
            again = client.post("/v1/disputes", json={"order_id": orders[shard][0], "item_id": "I-1",
                                                      "reason": "DAMAGED", "request": "FULL_REFUND"},
                                headers=BUYER)
            assert (again.status_code, again.json()["code"]) == (409, "DISPUTE_ALREADY_EXISTS_FOR_ITEM")


def test_the_operators_queue_and_timelines_show_the_disputes_of_both_shards(settings, orders):
    with sharded_api(settings, orders, run_workers=True) as client:
        waiting = {**BUYER, "Prefer": "wait-for-projections"}
        opened = [open_dispute(client, o, waiting) for o in orders[0] + orders[1]]
        listed = client.get("/v1/disputes", headers=OPERATOR).json()
        timelines = [client.get(f"/v1/disputes/{o['id']}/timeline", headers=OPERATOR).json()
                     for o in opened]
    assert sorted(d["id"] for d in listed["items"]) == sorted(o["id"] for o in opened)
    assert [[e["event_type"] for e in t["entries"]] for t in timelines] == [["DisputeOpened"]] * 4


def test_a_command_that_waits_is_in_the_lists_as_soon_as_its_own_shard_is_projected(settings, orders):
    with sharded_api(settings, orders, run_workers=True) as client:
        for order_id in orders[1] + orders[0]:
            opened = client.post("/v1/disputes?wait=true", json={
                "order_id": order_id, "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"},
                headers=BUYER)
            assert "x-projections-lag" not in opened.headers
            listed = client.get("/v1/disputes", params={"order_id": order_id}, headers=BUYER).json()
            assert [d["id"] for d in listed["items"]] == [opened.json()["id"]]


def test_the_deadline_worker_fires_the_due_timers_of_both_shards(settings, orders):
    clock = Clock()
    with sharded_api(settings, orders, clock=clock) as client:
        opened = [open_dispute(client, o)["id"] for o in (orders[0][0], orders[1][0])]
        client.app.state.projection.catch_up()
        clock.advance(days=30)
        worker = DeadlineWorker(client.app.state.disputes, client.app.state.engine, clock)
        assert worker.fire_due_once() == 2
        missed = [client.app.state.disputes.get_dispute(UUID(d)).deadlines for d in opened]
        assert missed == [{}, {}]  # every deadline of both fired and was recorded in its shard


async def test_the_projections_follow_the_other_shards_while_one_fails(settings, orders):
    import asyncio

    from tests.support.kafka import eventually

    with sharded_api(settings, orders) as client:
        opened = [open_dispute(client, o)["id"] for o in (orders[0][0], orders[1][0])]
        projection = client.app.state.projection
        broken = projection.shards[0].recorder  # the first: the one read before the other

        def away(*args, **kwargs):
            raise ConnectionError("shard 0's database is away")

        broken.select_notifications = away
        stopping = asyncio.Event()
        following = asyncio.create_task(projection.run(stopping, poll_interval=0.01))
        try:
            assert await eventually(lambda: projection.positions()[1] > 0, timeout=10)
        finally:
            stopping.set()
            await following
        listed = client.get("/v1/disputes", headers=OPERATOR).json()["items"]
    assert [d["id"] for d in listed] == [opened[1]] and projection.positions()[0] == 0


def test_the_relay_lag_is_reported_per_shard_and_in_total(settings, orders):
    with sharded_api(settings, orders) as client:
        for order_id in orders[0] + orders[1][:1]:
            open_dispute(client, order_id)
        lag = client.get("/v1/ops/relay-lag", headers=OPERATOR).json()
    assert [(s["shard"], s["events_pending"]) for s in lag["shards"]] == [(0, 2), (1, 1)]
    assert (lag["events_pending"], lag["last_notification_id"], lag["position"]) == (3, 3, 0)
