"""Timers are commands: two deadline workers racing on PostgreSQL fire each timer once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from services.common.database import sqlalchemy_engine
from services.dispute.application.deadline_worker import DeadlineWorker
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed

pytestmark = pytest.mark.integration


@pytest.fixture
def twenty_disputes_past_the_seller_deadline(pg_url):
    app = build_application(DisputeSettings(database_url=pg_url))
    engine = sqlalchemy_engine(pg_url)
    projection = DisputeIndexProjection(app, engine)
    projection.create_tables()
    for n in range(20):
        app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{n}")), item_id="I-1",
                         actor=Actor(Role.BUYER, "B-1"), reason="DAMAGED", request="FULL_REFUND",
                         request_amount=None, description="", at=NOW)
    projection.catch_up_once()
    return app, engine


def test_two_workers_racing_record_each_seller_timeout_once(twenty_disputes_past_the_seller_deadline):
    app, engine = twenty_disputes_past_the_seller_deadline
    later = NOW + timedelta(days=5, seconds=1)
    workers = [DeadlineWorker(app, engine, lambda: later) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        fired = sum(pool.map(lambda w: w.fire_due_once(), workers))
    assert fired == 20
    notifications = app.recorder.select_notifications(0, 1000)
    topics = [n.topic.rsplit(".", 1)[-1] for n in notifications]
    assert topics.count("DeadlineMissed") == 20 and topics.count("Resolved") == 20
