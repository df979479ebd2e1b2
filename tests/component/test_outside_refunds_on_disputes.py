"""OrderRefunded on orders.events reaches the order's open disputes, once per order event."""

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.orders import OrderRefunded
from services.common.database import sqlalchemy_engine
from services.dispute.entrypoints.kafka_subscribers import note_outside_refund
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed


@pytest.fixture
def book_and_open_dispute(tmp_path):
    url = f"sqlite:///{tmp_path}/d.sqlite"
    app = build_application(DisputeSettings(database_url=url))
    book = OrderBook(sqlalchemy_engine(url))
    book.create_tables()
    book.apply(order_placed())
    dispute = app.open_dispute(order=book.facts("O-1"), item_id="I-1", actor=Actor(Role.BUYER, "B-1"),
                               reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                               description="", at=NOW)
    return book, app, dispute.id


def refunded(amount: str) -> OrderRefunded:
    return OrderRefunded(event_id=uuid4(), order_id="O-1", amount=Decimal(amount),
                         refunded_at=NOW + timedelta(hours=1))


def test_an_order_refund_lowers_what_the_open_dispute_may_return(book_and_open_dispute):
    book, app, dispute_id = book_and_open_dispute
    event = refunded("25.00")
    book.apply(event)
    note_outside_refund(book, app, event, now=lambda: event.refunded_at)
    assert app.get_dispute(dispute_id).refundable_amount == Decimal("75.00")


def test_a_redelivered_order_refund_changes_the_dispute_once(book_and_open_dispute):
    book, app, dispute_id = book_and_open_dispute
    event = refunded("25.00")
    book.apply(event)
    note_outside_refund(book, app, event, now=lambda: event.refunded_at)
    version = app.get_dispute(dispute_id).version
    assert book.apply(event) is False
    note_outside_refund(book, app, event, now=lambda: event.refunded_at)
    assert app.get_dispute(dispute_id).version == version


def test_an_order_refund_for_an_order_without_disputes_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/d.sqlite"
    app = build_application(DisputeSettings(database_url=url))
    book = OrderBook(sqlalchemy_engine(url))
    book.create_tables()
    book.apply(order_placed(order_id="O-1"))
    note_outside_refund(book, app, refunded("25.00"), now=lambda: NOW)
    assert app.recorder.max_notification_id() in (None, 0)


def test_a_refund_landing_while_a_dispute_opens_is_not_lost(tmp_path):
    """Found by `make chaos`: the opening read the order (nothing refunded yet); the order
    consumer then booked an OrderRefunded and found no dispute of the order (the opening had
    not committed); the dispute was left refundable in full, its award later refused by the
    refund service's ceiling. The opening now looks again once it has committed."""
    from fastapi.testclient import TestClient

    from services.dispute.entrypoints.kafka_subscribers import apply_order_event
    from services.dispute.entrypoints.serve import create_app
    from tests.support.tokens import SECRET, bearer

    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/dispute.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=lambda: NOW, run_consumers=False, run_workers=False)
    book, event = app.state.orders, refunded("25.00")
    book.apply(order_placed())
    read_by_the_opening = book.facts

    def facts_then_the_refund_lands(order_id):
        facts = read_by_the_opening(order_id)
        if facts is not None and not book.refund_event_ids(order_id):
            apply_order_event(book, app.state.disputes, event)  # before the opening commits
        return facts

    book.facts = facts_then_the_refund_lands
    with TestClient(app) as client:
        opened = client.post("/v1/disputes", json={"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED",
                                                   "request": "FULL_REFUND"}, headers=bearer("buyer", "B-1"))
        assert opened.status_code == 201, opened.text
        view = client.get(f"/v1/disputes/{opened.json()['id']}", headers=bearer("buyer", "B-1")).json()
    assert Decimal(str(view["refundable_amount"])) == Decimal("75.00")


def test_an_opening_stays_201_when_its_second_look_at_the_order_fails(tmp_path, monkeypatch):
    """The second look runs after the opening committed: a failure there (the store away) is
    logged; the stored dispute is answered 201, never 500 (a client retrying a 500 without an
    Idempotency-Key would be told the item is already disputed)."""
    from fastapi.testclient import TestClient

    from services.dispute.entrypoints.http import routes
    from services.dispute.entrypoints.serve import create_app
    from tests.support.tokens import SECRET, bearer

    def store_away(*args):
        raise ConnectionError("database away")

    monkeypatch.setattr(routes, "note_refunds_missed_at_opening", store_away)
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/dispute.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=lambda: NOW, run_consumers=False, run_workers=False)
    app.state.orders.apply(order_placed())
    with TestClient(app, raise_server_exceptions=False) as client:
        opened = client.post("/v1/disputes", json={"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED",
                                                   "request": "FULL_REFUND"}, headers=bearer("buyer", "B-1"))
        assert opened.status_code == 201, opened.text
        assert client.get(f"/v1/disputes/{opened.json()['id']}", headers=bearer("buyer", "B-1")).status_code == 200
