"""Projections written a batch at a time (one statement per batch, aggregates kept between
batches, currencies remembered), on SQLite and PostgreSQL: the rows are those of a full load."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.common.database import sqlalchemy_engine
from services.dispute.adapters.order_book import OrderBook
from services.dispute.bootstrap import build_application
from services.dispute.domain import Actor, Role
from services.dispute.projections import dispute_index, timeline
from services.dispute.projections.dispute_index import DisputeIndexProjection, index_row
from services.dispute.projections import rebuild as rebuilding
from services.dispute.projections.rebuild import rebuild
from services.dispute.projections.timeline import TimelineProjection
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed

pytestmark = pytest.mark.integration
BUYER, SELLER = Actor(Role.BUYER, "B-1"), Actor(Role.SELLER, "S-1")
DISPUTES = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path}/d.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def store(url):
    """Eight disputes whose events interleave: all opened, then an offer on each, then all
    rejected (as a live store's history is: no batch holds one dispute from start to end)."""
    app, engine = build_application(DisputeSettings(database_url=url)), sqlalchemy_engine(url)
    for kind in (DisputeIndexProjection, TimelineProjection):
        kind(app, engine).create_tables()
    ids = [app.open_dispute(order=OrderBook.facts_from(order_placed(order_id=f"O-{n}")), item_id="I-1",
                            actor=BUYER, reason="DAMAGED", request="FULL_REFUND", request_amount=None,
                            description="", at=NOW + timedelta(minutes=n)).id for n in range(DISPUTES)]
    at = NOW + timedelta(days=1)
    for n, dispute_id in enumerate(ids):
        app.execute(dispute_id, at, lambda d, n=n: d.make_offer(
            offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal(10 + n), actor=SELLER,
            at=at, policy=app.policy))
    for dispute_id in ids:
        app.execute(dispute_id, at, lambda d: d.reject_offer(
            offer_id="OF-1", reason="too little", actor=BUYER, at=at, policy=app.policy))
    return app, engine, ids


def rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def loaded_index_rows(app, ids) -> list[dict]:
    """What the index must hold: each dispute loaded whole from the store."""
    return sorted((index_row(app.repository.get(d)) for d in ids), key=lambda r: r["dispute_id"])


def test_kept_aggregates_fewer_than_the_disputes_in_flight_still_give_the_rows_of_a_full_load(store, monkeypatch):
    app, engine, ids = store
    monkeypatch.setattr(DisputeIndexProjection, "KEPT_DISPUTES", 3)  # the others are loaded again
    rebuild(DisputeIndexProjection, app, engine, grace_seconds=0, batch_size=5)
    stored = rows(engine, dispute_index.live_index_table(engine))
    assert [(r["status"], r["version"]) for r in stored] == [("AWAITING_SELLER_RESPONSE", 4)] * DISPUTES
    assert stored == loaded_index_rows(app, ids)


def test_a_batch_that_failed_to_write_is_projected_again_from_the_store(store, monkeypatch):
    app, engine, ids = store
    projection = DisputeIndexProjection(app, engine, batch_size=6)
    write = dispute_index.upsert_newer
    failures = []

    def fails_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("the database went away")
        return write(*args, **kwargs)

    projection.catch_up_once()  # the kept aggregates are one batch ahead of the failed one
    monkeypatch.setattr(dispute_index, "upsert_newer", fails_once)
    with pytest.raises(RuntimeError):
        projection.catch_up_once()
    projection.catch_up()
    assert failures and rows(engine, projection.live_table()) == loaded_index_rows(app, ids)


def test_a_newer_row_is_never_replaced_by_an_older_one(store):
    app, engine, ids = store
    projection = DisputeIndexProjection(app, engine)
    projection.catch_up()
    older = index_row(app.repository.get(ids[0], version=1))
    with engine.begin() as conn:
        dispute_index.upsert_newer(conn, projection.live_table(), [older], key="dispute_id")
    [row] = [r for r in rows(engine, projection.live_table()) if r["dispute_id"] == str(ids[0])]
    assert row["version"] == 4


def test_the_timeline_finds_a_disputes_currency_in_an_earlier_batch_or_its_stored_opening(store):
    app, engine, _ = store
    first = TimelineProjection(app, engine, batch_size=DISPUTES)
    first.catch_up_once()  # the openings only
    TimelineProjection(app, engine, batch_size=5).catch_up()  # a fresh runner: nothing kept
    stored = rows(engine, timeline.live_timeline_table(engine))
    offers = [r["summary"] for r in stored if r["event_type"] == "OfferMade"]
    assert len(stored) == 4 * DISPUTES and len(offers) == DISPUTES
    assert all("USD" in summary for summary in offers)


def test_timeline_rows_already_stored_are_kept_as_they_are(store):
    app, engine, _ = store
    projection = TimelineProjection(app, engine)
    projection.catch_up()
    table = projection.live_table()
    before = rows(engine, table)
    batch = projection.prepare(app.recorder.select_notifications(0, 3), app)
    with engine.begin() as conn:
        projection.write(conn, table, batch)  # the same batch again, as a second runner would
    assert rows(engine, table) == before


def test_a_fresh_generations_rows_copied_straight_in_equal_those_written_through_the_conflict_path(store):
    """A rebuild fills its generation before the switch with plain COPY (`fresh`): the rows of
    the projection following the store; a row stored already then fails the batch, never is
    replaced or doubled."""
    from psycopg.errors import IntegrityError  # the COPY runs on the driver's own cursor

    app, engine, _ = store
    followed = TimelineProjection(app, engine, batch_size=5)
    followed.catch_up()
    expected = rows(engine, followed.live_table())
    rebuilt = rebuild(TimelineProjection, app, engine, grace_seconds=0, batch_size=5)
    table = timeline.live_timeline_table(engine)
    assert rebuilt.events == 4 * DISPUTES and rows(engine, table) == expected
    fresh = TimelineProjection(app, engine)
    fresh.fresh = True
    batch = fresh.prepare(app.recorder.select_notifications(0, 3), app)
    if engine.dialect.name == "postgresql":
        with pytest.raises(IntegrityError), engine.begin() as conn:
            fresh.write(conn, table, batch)
    assert rows(engine, table) == expected


def written_rows(monkeypatch) -> list[tuple[str, int]]:
    """(dispute id, version) of every index row handed to the database from now on."""
    written: list[tuple[str, int]] = []
    upsert = dispute_index.upsert_newer

    def recording(conn, table, rows, **kwargs):
        written.extend((row["dispute_id"], row["version"]) for row in rows)
        return upsert(conn, table, rows, **kwargs)

    monkeypatch.setattr(dispute_index, "upsert_newer", recording)
    return written


def test_a_rebuild_writes_each_disputes_index_row_once_at_its_newest_version(store, monkeypatch):
    """Before its switch a generation holds each kept dispute's row back: the events interleave
    here, and a row was written once for each batch that touched its dispute. At the end they
    are written a few at a time (three here)."""
    app, engine, ids = store
    monkeypatch.setattr(DisputeIndexProjection, "HELD_BACK_CHUNK", 3)
    written = written_rows(monkeypatch)
    rebuild(DisputeIndexProjection, app, engine, grace_seconds=0, batch_size=5)
    assert sorted(written) == sorted((str(d), 4) for d in ids)
    assert rows(engine, dispute_index.live_index_table(engine)) == loaded_index_rows(app, ids)


def test_a_dispute_dropped_from_the_kept_ones_has_its_row_written_then_and_again_when_it_moves(store, monkeypatch):
    app, engine, ids = store
    monkeypatch.setattr(DisputeIndexProjection, "KEPT_DISPUTES", 3)
    written = written_rows(monkeypatch)
    rebuild(DisputeIndexProjection, app, engine, grace_seconds=0, batch_size=5)
    assert {d for d, _ in written} == {str(d) for d in ids}
    assert len(written) > len(ids)  # some rows written when dropped, then newer ones later
    assert rows(engine, dispute_index.live_index_table(engine)) == loaded_index_rows(app, ids)


def test_the_projection_following_the_live_store_writes_every_batchs_rows_at_once(store, monkeypatch):
    app, engine, ids = store
    written = written_rows(monkeypatch)
    projection = DisputeIndexProjection(app, engine, batch_size=DISPUTES)
    projection.catch_up_once()  # the openings: their rows are there at once, nothing held back
    assert sorted(written) == sorted((str(d), 1) for d in ids)
    assert list(projection.held_back()) == []
    assert rows(engine, projection.live_table()) == sorted(
        (index_row(app.repository.get(d, version=1)) for d in ids), key=lambda r: r["dispute_id"])


def test_rows_held_back_are_written_with_the_switch_so_the_live_generation_misses_none(store, monkeypatch):
    """What the rebuild held back is in the generation's table when it is switched live (in the
    switch's own transaction), not only once the live projection writes again."""
    app, engine, ids = store
    switched = []
    switch = rebuilding.switch_live_version

    def looking_first(conn, name, old, new):
        table = DisputeIndexProjection(app, engine, version=new).live_table()
        switched.append(conn.execute(select(table.c.dispute_id, table.c.version)).all())
        return switch(conn, name, old, new)

    monkeypatch.setattr(rebuilding, "switch_live_version", looking_first)
    rebuild(DisputeIndexProjection, app, engine, grace_seconds=0, batch_size=5)
    assert sorted(switched[0]) == sorted((str(d), 4) for d in ids)
