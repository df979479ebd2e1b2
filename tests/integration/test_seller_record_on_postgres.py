"""Every seller's dispute record on real PostgreSQL, figure by figure against a small history
worked out by hand: an agreement, a withdrawal, a seller timeout, a decision overturned on
appeal, one dispute still open, and another seller's dispute that must not count."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.common.database import sqlalchemy_engine
from services.dispute.adapters.order_book import OrderBook
from services.dispute.bootstrap import build_application
from services.dispute.projections.rebuild import rebuild
from services.dispute.projections.seller_record import (SellerRecordProjection,
                                                        live_facts_table, read_facts,
                                                        seller_record)
from services.dispute.settings import DisputeSettings
from tests.integration.test_projection_batches import rows
from tests.support.orders import order_placed
from tests.unit.domain.support import (
    ORDER, OTHER_SELLER, SELLER, T0, accept, add_evidence, appeal, day, decide, decide_appeal,
    escalate, expire, feedback, offer, open_dispute, withdraw,
)

pytestmark = pytest.mark.integration
WINDOW = timedelta(days=90)


def dispute_of(order_id: str, *commands, seller: str = "S-1"):
    dispute = open_dispute(order=replace(ORDER, order_id=order_id, seller_id=seller))
    for command in commands:
        command(dispute)
    return dispute


@pytest.fixture
def history(pg_url):
    app, engine = build_application(DisputeSettings(database_url=pg_url)), sqlalchemy_engine(pg_url)
    book = OrderBook(engine)
    book.create_tables()
    for n in range(1, 7):  # six orders of S-1 (five disputed), one of S-9
        book.apply(order_placed(order_id=f"O-{n}", now=T0))
    book.apply(order_placed(order_id="O-9", seller="S-9", now=T0))
    app.save(
        dispute_of("O-1", offer("A", "30.00", by=SELLER), accept("A"), feedback(4)),  # agreed day 2
        dispute_of("O-2", withdraw()),                                                 # day 1
        dispute_of("O-3", expire(day(5)), feedback(2)),                    # seller timeout day 5
        dispute_of("O-4", escalate(), decide("SELLER_FAVOUR", None), add_evidence("E-new", at=day(6)),
                   appeal(at=day(6)), decide_appeal(at=day(9))),  # seller's day 5, buyer's day 9
        dispute_of("O-5"),                                                             # still open
        dispute_of("O-9", withdraw(), seller="S-9", ),
    )
    projection = SellerRecordProjection(app, engine)
    projection.create_tables()
    projection.catch_up()
    return app, engine, book


def record_at(engine, book, as_of, seller="S-1"):
    facts = read_facts(engine, seller, as_of - WINDOW, as_of)
    return seller_record(seller, facts, book.orders_placed(seller, as_of - WINDOW, as_of), as_of,
                         WINDOW)


def test_every_figure_of_the_record_matches_the_history(history):
    _, engine, book = history
    record = record_at(engine, book, day(20))
    assert (record.orders_seen, record.disputes_opened, record.disputes_ended) == (6, 5, 4)
    assert record.dispute_rate == round(5 / 6, 4)
    assert record.outcome_shares == {"BUYER_FAVOUR": 0.5, "SELLER_FAVOUR": 0.0, "PARTIAL": 0.0,
                                     "AGREED": 0.25, "WITHDRAWN": 0.25}
    assert record.resolved_by_seller_timeout_share == 0.25
    # times to the first outcome: 1, 2, 5 and 5 days
    assert record.median_time_to_resolution == timedelta(days=3.5)
    assert record.p90_time_to_resolution == timedelta(days=5)
    assert record.escalation_rate == 0.2
    assert (record.average_feedback, record.feedback_count) == (3.0, 2)


def test_the_record_as_of_a_day_is_the_record_of_that_day(history):
    _, engine, book = history
    before_the_appeal = record_at(engine, book, day(6.5))
    assert before_the_appeal.outcome_shares["SELLER_FAVOUR"] == 0.25
    assert before_the_appeal.outcome_shares["BUYER_FAVOUR"] == 0.25
    assert (before_the_appeal.average_feedback, before_the_appeal.feedback_count) == (None, 0)
    early = record_at(engine, book, day(1.5))
    assert (early.disputes_opened, early.disputes_ended, early.escalation_rate) == (5, 1, 0.0)
    assert early.outcome_shares["WITHDRAWN"] == 1.0
    assert early.median_time_to_resolution == timedelta(days=1)
    before_anything = record_at(engine, book, T0 - timedelta(days=1))
    assert (before_anything.orders_seen, before_anything.disputes_opened) == (6, 0)
    assert before_anything.outcome_shares == {} and before_anything.dispute_rate == 0.0


def test_only_the_sellers_own_disputes_count(history):
    _, engine, book = history
    other = record_at(engine, book, day(20), seller="S-9")
    assert (other.orders_seen, other.disputes_opened, other.outcome_shares["WITHDRAWN"]) == (1, 1, 1.0)


def test_the_record_keeps_no_buyer_and_no_comment(history):
    _, engine, _ = history
    table = live_facts_table(engine)
    with engine.connect() as conn:
        stored = [dict(row) for row in conn.execute(select(table)).mappings()]
    text = repr(stored)
    assert "B-1" not in text and "quick and fair" not in text


def test_a_rebuild_gives_the_same_record(history):
    app, engine, book = history
    before = record_at(engine, book, day(20))
    result = rebuild(SellerRecordProjection, app, engine, grace_seconds=0, batch_size=5)
    assert result.table == "seller_record_facts_v2"
    assert record_at(engine, book, day(20)) == before


def test_a_batch_written_again_changes_no_row(history):
    """A batch replayed after a crash (its rows committed, its position not): every event is
    at or below its row's stored version and skipped, so no outcome is counted twice (without
    the version check a Resolved replayed would add a second outcome to its row)."""
    app, engine, _ = history
    projection = SellerRecordProjection(app, engine)
    table = projection.live_table()
    before = rows(engine, table)
    events = projection.prepare(app.recorder.select_notifications(1, 10_000), app)
    with engine.begin() as conn:
        projection.write(conn, table, events)
    assert rows(engine, table) == before and len(before) == 6
