"""Rebuilding projections on real PostgreSQL: same rows, reads served meanwhile, then switched."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select

from services.common.database import sqlalchemy_engine
from services.dispute.domain import Actor, Role
from services.dispute.bootstrap import build_application
from services.dispute.adapters.order_book import OrderBook
from services.dispute.projections.dispute_index import DisputeIndexProjection, live_index_table
from services.dispute.projections.rebuild import rebuild, status
from services.dispute.settings import DisputeSettings
from services.dispute.projections.timeline import TimelineProjection, live_timeline_table
from tests.support.orders import NOW, order_placed

pytestmark = pytest.mark.integration
BUYER, SELLER = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")


def open_with_offer(app, n: int):
    dispute = app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{n}")), item_id="I-1",
                               actor=BUYER, reason="DAMAGED", request="FULL_REFUND",
                               request_amount=None, description="", at=NOW + timedelta(minutes=n))
    at = NOW + timedelta(days=1, minutes=n)
    app.execute(dispute.id, at, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal(10 + n), actor=SELLER, at=at,
        policy=app.policy))
    return dispute.id


@pytest.fixture
def live(pg_url):
    """Thirty disputes (Opened, SellerResponded, OfferMade each), both projections caught up."""
    app, engine = build_application(DisputeSettings(database_url=pg_url)), sqlalchemy_engine(pg_url)
    projections = [DisputeIndexProjection(app, engine), TimelineProjection(app, engine)]
    for projection in projections:
        projection.create_tables()
    ids = [open_with_offer(app, n) for n in range(30)]
    for projection in projections:
        projection.catch_up()
    return app, engine, projections, ids


def rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def test_rebuilt_index_equals_the_live_one_row_for_row(live):
    assert_rebuild_gives_the_same_rows(live, DisputeIndexProjection, live_index_table)


def test_rebuilt_timeline_equals_the_live_one_row_for_row(live):
    assert_rebuild_gives_the_same_rows(live, TimelineProjection, live_timeline_table)


def assert_rebuild_gives_the_same_rows(live, kind, live_table):
    app, engine, _, _ = live
    before = live_table(engine)
    expected = rows(engine, before)
    result = rebuild(kind, app, engine, grace_seconds=0, batch_size=7)
    after = live_table(engine)
    assert (before.name, after.name) == (kind.name, f"{kind.name}_v2")
    assert rows(engine, after) == expected
    assert result.events == 90 and not inspect(engine).has_table(before.name)


def test_reads_are_served_during_a_rebuild_and_events_meanwhile_are_not_lost(live):
    app, engine, (index, _), ids = live
    seen_during = []

    def progress(done, total):
        seen_during.append(len(rows(engine, live_index_table(engine))))
        if len(seen_during) == 1:  # a command lands while the rebuild runs
            at = NOW + timedelta(days=4)
            app.execute(ids[0], at, lambda d: d.escalate(note="", actor=BUYER, at=at))
            index.catch_up()

    rebuild(DisputeIndexProjection, app, engine, progress, grace_seconds=0, batch_size=10)
    index.catch_up()  # the service's runner follows the new generation from its position
    assert seen_during and set(seen_during) == {30}
    table = live_index_table(engine)
    with engine.connect() as conn:
        escalated = conn.execute(select(table.c.status).where(table.c.dispute_id == str(ids[0]))).scalar()
    assert escalated == "UNDER_REVIEW"
    index_status = next(s for s in status(app, engine) if s["name"] == "dispute_index")
    assert (index_status["table"], index_status["behind"]) == ("dispute_index_v2", 0)


@pytest.mark.parametrize("kind", [DisputeIndexProjection, TimelineProjection])
def test_new_generation_has_its_indexes(live, kind):
    """Its secondary indexes are built once its rows are in, before the switch."""
    app, engine, _, _ = live
    rebuild(kind, app, engine, grace_seconds=0, batch_size=7)
    table = kind(app, engine).live_table()
    stored = {i["name"]: i for i in inspect(engine).get_indexes(table.name)}
    assert table.indexes and set(stored) == {i.name for i in table.indexes}
    for index in table.indexes:
        found = stored[index.name]
        if None in found["column_names"]:  # on an expression: the index's deadline order
            assert [str(e) for e in index.expressions][0].startswith("coalesce(")
            assert found["expressions"][0].lower().startswith("coalesce(next_deadline")
            assert found["column_names"][1:] == ["dispute_id"]
        else:
            assert tuple(found["column_names"]) == tuple(c.name for c in index.columns)


def test_a_write_that_fails_fails_the_rebuild_and_the_next_one_is_whole(live, monkeypatch):
    app, engine, _, _ = live
    expected = rows(engine, live_index_table(engine))
    write, calls = DisputeIndexProjection.write, []

    def fails_the_third(self, conn, table, prepared):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return write(self, conn, table, prepared)

    monkeypatch.setattr(DisputeIndexProjection, "write", fails_the_third)
    with pytest.raises(RuntimeError):
        rebuild(DisputeIndexProjection, app, engine, grace_seconds=0, batch_size=7)
    assert live_index_table(engine).name == "dispute_index"  # not switched: the old one serves
    result = rebuild(DisputeIndexProjection, app, engine, grace_seconds=0, batch_size=7)
    assert result.events == 90 and rows(engine, live_index_table(engine)) == expected

