"""The dispute service's order book keeps the first facts of an order: a second OrderPlaced
that contradicts them is refused, so a forger cannot take the order over and dispute it."""

import pytest
from fastapi.testclient import TestClient

from services.dispute.entrypoints.serve import create_app
from services.dispute.adapters.order_book import OrderContradicted
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET, bearer

OPENING = {"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND",
           "description": "arrived broken"}


@pytest.fixture
def app(tmp_path):
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/dispute.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=lambda: NOW, run_consumers=False)
    app.state.orders.apply(order_placed(buyer="B-1"))
    return app


def test_an_order_placed_again_with_another_buyer_is_refused_and_keeps_its_buyer(app):
    with pytest.raises(OrderContradicted) as refused:
        app.state.orders.apply(order_placed(buyer="B-forger"))
    assert refused.value.changes == ["buyer_id"]
    assert app.state.orders.facts("O-1").buyer_id == "B-1"


def test_the_forger_of_a_second_order_placed_cannot_open_a_dispute_on_the_order(app):
    with pytest.raises(OrderContradicted):
        app.state.orders.apply(order_placed(buyer="B-forger"))
    with TestClient(app) as client:
        forged = client.post("/v1/disputes", json=OPENING, headers=bearer("buyer", "B-forger"))
        genuine = client.post("/v1/disputes", json=OPENING, headers=bearer("buyer", "B-1"))
    assert (forged.status_code, forged.json()["code"]) == (403, "FORBIDDEN")
    assert genuine.status_code == 201, genuine.text


@pytest.mark.parametrize("changes, changed", [
    ({"seller": "S-forger"}, ["seller_id"]),
    ({"amount": "99999.00"}, ["items", "total_amount"]),
    ({"item": "I-9"}, ["items"]),
    ({"currency": "EUR"}, ["currency"]),
])
def test_an_order_placed_again_with_other_seller_items_or_amounts_is_refused(app, changes, changed):
    first = app.state.orders.facts("O-1")
    with pytest.raises(OrderContradicted) as refused:
        app.state.orders.apply(order_placed(**changes))
    assert refused.value.changes == changed
    assert app.state.orders.facts("O-1") == first


def test_an_exact_duplicate_of_the_order_placed_is_a_no_op(app):
    placed = order_placed(buyer="B-2", order_id="O-2")
    assert app.state.orders.apply(placed) is True
    assert app.state.orders.apply(placed) is False
    assert app.state.orders.apply(placed.model_copy(update={"event_id": order_placed().event_id}))
    assert app.state.orders.facts("O-2").buyer_id == "B-2"
