"""Reads a user makes on every page load go through an index on a real PostgreSQL, so their cost
does not grow with the whole marketplace's rows; a store made before the indexes gets them at
start-up. Each plan is PostgreSQL's for the very statement the store sends (captured as it runs),
over 20,000 rows of other parties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy import event, inspect, text

from services.common.database import sqlalchemy_engine
from services.dispute.adapters.order_book import OrderBook
from services.notification.store import NotificationStore

pytestmark = pytest.mark.integration

ROWS = 20_000
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def plans_of(engine, read) -> list[str]:
    """PostgreSQL's plan of each SELECT `read()` sends, with the parameters it sent."""
    sent = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))
    event.listen(engine, "before_cursor_execute", note)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    with engine.connect() as conn:
        return ["\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
                for statement, parameters in sent]


@pytest.fixture
def order_book(pg_url) -> OrderBook:
    book = OrderBook(sqlalchemy_engine(pg_url))
    book.create_tables()
    with book.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO orders (order_id, buyer_id, seller_id, currency, items, total_amount,"
                          f" placed_at, refunded_total) SELECT 'O-' || g, 'B-' || (g % 2000), 'S-' || (g % 500),"
                          f" 'USD', '{{}}', '10.00', :start + g * interval '1 minute', '0'"
                          f" FROM generate_series(1, {ROWS}) g"), {"start": START})
        conn.execute(text("ANALYZE orders"))
    return book


def test_a_buyers_orders_page_reads_the_buyers_orders_only(order_book):
    plans = plans_of(order_book.engine, lambda: order_book.orders_of_buyer("B-7", limit=20))
    assert "ix_orders_buyer_placed" in plans[0] and "Seq Scan on orders" not in plans[0]
    assert len(order_book.orders_of_buyer("B-7", limit=20)) == 10  # 20,000 orders of 2,000 buyers


def test_a_sellers_orders_in_a_window_are_counted_from_the_index(order_book):
    since, until = START, START + timedelta(days=30)
    plans = plans_of(order_book.engine, lambda: order_book.orders_placed("S-7", since, until))
    assert "ix_orders_seller_placed" in plans[0] and "Seq Scan on orders" not in plans[0]
    assert order_book.orders_placed("S-7", since, until) == ROWS // 500


def indexes_after_two_starts(pg_url, store, table: str, as_it_was_before: list[str]) -> set[str]:
    """The indexes of `table` once a store of the version before (made now, then changed by
    `as_it_was_before`) was started twice by this version (the second finding nothing to do)."""
    engine = sqlalchemy_engine(pg_url)
    store(engine).create_tables()
    with engine.begin() as conn:
        for statement in as_it_was_before:
            conn.execute(text(statement))
    store(engine).create_tables()
    store(engine).create_tables()
    return {i["name"] for i in inspect(engine).get_indexes(table)}


def test_an_order_book_made_before_the_indexes_gets_them(pg_url):
    names = indexes_after_two_starts(pg_url, OrderBook, "orders", [
        "DROP INDEX ix_orders_buyer_placed", "DROP INDEX ix_orders_seller_placed"])
    assert {"ix_orders_buyer_placed", "ix_orders_seller_placed"} <= names


@pytest.fixture
def notification_store(pg_url) -> NotificationStore:
    store = NotificationStore(sqlalchemy_engine(pg_url))
    store.create_tables()
    with store.engine.begin() as conn:  # the operators' shared inbox and 1,000 parties'
        conn.execute(text(
            f"INSERT INTO notifications (id, recipient, recipient_role, event_id, event_type, dispute_id,"
            f" subject, body, created_at) SELECT md5(g::text), CASE WHEN g % 2 = 0 THEN 'operators'"
            f" ELSE 'P-' || (g % 1000) END, CASE WHEN g % 2 = 0 THEN 'operators' ELSE 'buyer' END,"
            f" md5(g::text), 'Escalated', md5(g::text), 's', 'b', :start + (g / 3) * interval '1 second'"
            f" FROM generate_series(1, {ROWS}) g"), {"start": START})
        conn.execute(text("ANALYZE notifications"))
    return store


@pytest.mark.parametrize("recipient, role", [("operators", "operators"), ("P-7", "buyer"), (None, None)])
def test_inbox_pages_use_the_index(notification_store, recipient, role):
    """Every page is entered at its cursor through the index (its name is short: the test's
    database is named after it and each case needs its own)."""
    store = notification_store
    first = store.inbox(recipient, 20, role=role)
    cursor = (first[-1]["created_at"], first[-1]["id"])
    for plan in plans_of(store.engine, lambda: store.inbox(recipient, 20, role=role, before=cursor)):
        assert "Seq Scan" not in plan and "Sort" not in plan
        assert "ix_notifications_inbox_newest" in plan or "ix_notifications_newest" in plan
        assert "Index Cond" in plan and "created_at" in plan.split("Index Cond", 1)[1]


def test_pages_of_entries_made_at_one_instant_show_each_once_newest_first(pg_url):
    store = NotificationStore(sqlalchemy_engine(pg_url))
    store.create_tables()
    at = [START, START, START, START + timedelta(seconds=1), START, START + timedelta(seconds=1), START]
    ids = [str(uuid4()) for _ in at]
    with store.engine.begin() as conn:
        for entry_id, created in zip(ids, at):
            conn.execute(text("INSERT INTO notifications (id, recipient, recipient_role, event_id, event_type,"
                              " dispute_id, subject, body, created_at) VALUES (:id, 'B-1', 'buyer', 'e', 'Escalated',"
                              " 'd', 's', 'b', :at)"), {"id": entry_id, "at": created})
    seen, before = [], None
    while True:
        page = store.inbox("B-1", 2, role="buyer", before=before)
        if not page:
            break
        seen += [entry["id"] for entry in page]
        before = (page[-1]["created_at"], page[-1]["id"])
    assert seen == [i for _, i in sorted(zip(at, ids), reverse=True)]


def test_a_notification_store_made_before_the_inbox_indexes_gets_them_and_loses_the_old_one(pg_url):
    names = indexes_after_two_starts(pg_url, NotificationStore, "notifications", [
        "DROP INDEX ix_notifications_inbox_newest", "DROP INDEX ix_notifications_newest",
        "CREATE INDEX ix_notifications_recipient ON notifications (recipient)"])
    assert {"ix_notifications_inbox_newest", "ix_notifications_newest"} <= names
    assert "ix_notifications_recipient" not in names


@pytest.fixture
def dispute_index(pg_url):
    from sqlalchemy import MetaData

    from services.dispute.projections.dispute_index import index_table

    engine = sqlalchemy_engine(pg_url)
    table = index_table("dispute_index_test", MetaData())
    table.create(engine)
    with engine.begin() as conn:  # three disputes opened each second, some at one instant
        conn.execute(text(
            f"INSERT INTO dispute_index_test SELECT md5(g::text), 'O-' || g, 'I-1', 'B-' || (g % 2000),"
            f" 'S-' || (g % 500), 'DAMAGED', 'FULL_REFUND', 'UNDER_REVIEW', 'OPERATOR', NULL, '{{}}',"
            f" '10.00', '10.00', 'USD', 1, :start + (g / 3) * interval '1 second', :start"
            f" FROM generate_series(1, {ROWS}) g"), {"start": START})
        conn.execute(text("ANALYZE dispute_index_test"))
    return engine, table


def test_a_deep_page_of_the_disputes_by_opening_is_entered_at_its_cursor(dispute_index):
    from services.dispute.entrypoints.http.queries import _decode, _page

    engine, table = dispute_index
    _, cursor = _page(engine, table, [], "created_at", 5000, None)
    plans = plans_of(engine, lambda: _page(engine, table, [], "created_at", 20, _decode(cursor)))
    assert "Seq Scan" not in plans[0]
    assert "Index Cond" in plans[0] and "created_at" in plans[0].split("Index Cond", 1)[1]


def test_pages_of_disputes_opened_at_one_instant_show_each_once_in_order(dispute_index):
    from services.dispute.entrypoints.http.queries import _decode, _page

    engine, table = dispute_index
    with engine.begin() as conn:  # three a second: every page boundary falls inside an instant
        expected = list(conn.execute(text("SELECT dispute_id FROM dispute_index_test "
                                          "ORDER BY created_at, dispute_id LIMIT 20")).scalars())
    seen, cursor = [], None
    for _ in range(10):  # pages of 2 over 20 disputes
        items, cursor = _page(engine, table, [], "created_at", 2, _decode(cursor))
        seen += [item.id for item in items]
    assert seen == expected


def with_deadlines(dispute_index):
    """Two of every three disputes with a next deadline, the others without one."""
    engine, table = dispute_index
    with engine.begin() as conn:
        conn.execute(text("UPDATE dispute_index_test SET next_deadline = created_at + (md5(dispute_id)::uuid"
                          "::text < '8' )::int * interval '2 days' + interval '1 day' WHERE order_id::text"
                          " NOT LIKE '%3'"))
        conn.execute(text("ANALYZE dispute_index_test"))
    return engine, table


def test_the_operators_queue_by_next_deadline_is_read_in_the_index_order(dispute_index):
    """It sorted every dispute for every page (55 ms at 100,000): now a page is read from the
    index of its sort expression, and a deep page entered at its cursor."""
    from services.dispute.entrypoints.http.queries import _decode, _page

    engine, table = with_deadlines(dispute_index)
    first = plans_of(engine, lambda: _page(engine, table, [], "next_deadline", 50, None))[0]
    assert "ix_dispute_index_test_deadline_order" in first and "Sort" not in first and "Seq Scan" not in first
    _, cursor = _page(engine, table, [], "next_deadline", 5000, None)
    deep = plans_of(engine, lambda: _page(engine, table, [], "next_deadline", 20, _decode(cursor)))[0]
    assert "ix_dispute_index_test_deadline_order" in deep and "Sort" not in deep
    assert "Index Cond" in deep and "9999" in deep.split("Index Cond", 1)[1]


def test_pages_by_next_deadline_show_each_dispute_once_those_without_one_last(dispute_index):
    from services.dispute.entrypoints.http.queries import _decode, _page

    engine, table = with_deadlines(dispute_index)
    with engine.begin() as conn:
        expected = list(conn.execute(text(
            "SELECT dispute_id FROM dispute_index_test WHERE buyer_id IN ('B-7', 'B-8', 'B-9')"
            " ORDER BY next_deadline NULLS LAST, dispute_id")).scalars())
    mine = [table.c.buyer_id.in_(["B-7", "B-8", "B-9"])]
    seen, cursor = [], None
    while True:
        items, cursor = _page(engine, table, mine, "next_deadline", 4, _decode(cursor))
        seen += [item.id for item in items]
        if cursor is None:
            break
    assert len(expected) == 30 and seen == expected


def test_a_dispute_index_made_before_the_deadline_order_index_gets_it(pg_url):
    from services.dispute.bootstrap import build_application
    from services.dispute.projections.dispute_index import DisputeIndexProjection
    from services.dispute.settings import DisputeSettings

    app = build_application(DisputeSettings(database_url=pg_url))
    names = indexes_after_two_starts(pg_url, lambda engine: DisputeIndexProjection(app, engine),
                                     "dispute_index", ["DROP INDEX ix_dispute_index_deadline_order"])
    assert "ix_dispute_index_deadline_order" in names
