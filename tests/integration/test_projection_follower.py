"""The projections of the API process following the store together (projections/follower.py),
on SQLite and PostgreSQL: one read of the log and one decode of each event per round for all
of them, every projection's rows and position in one transaction, the same rows as each
projection following alone; a projection that cannot write, or that stands elsewhere in the
log, never holds the others back. And the small batches a round writes on PostgreSQL: one
statement per table, the rows those of the COPY path."""

import psycopg
import pytest
from sqlalchemy import event

from services.dispute.projections import timeline, upserts
from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.projections.follower import ProjectionFollower
from services.dispute.projections.seller_record import SellerRecordProjection
from services.dispute.projections.timeline import TimelineProjection
from tests.integration.test_projection_batches import DISPUTES, loaded_index_rows, rows, store, url  # noqa: F401

pytestmark = pytest.mark.integration
KINDS = (DisputeIndexProjection, TimelineProjection, SellerRecordProjection)


def projections(app, engine, **kwargs):
    made = [kind(app, engine, **kwargs) for kind in KINDS]
    for projection in made:
        projection.create_tables()
    return made


def every_row(engine, projections) -> list[list[dict]]:
    return [rows(engine, p.live_table()) for p in projections]


def test_following_together_gives_each_projection_the_rows_and_position_of_following_alone(store):
    app, engine, ids = store
    together = projections(app, engine)
    read = ProjectionFollower(together, batch_size=5).catch_up()
    head = app.recorder.max_notification_id()
    assert read == head == 4 * DISPUTES
    assert [p.position() for p in together] == [head] * len(KINDS)
    assert rows(engine, together[0].live_table()) == loaded_index_rows(app, ids)
    after = every_row(engine, together)
    with engine.begin() as conn:  # the same history projected again, each projection alone
        for p in together:
            conn.execute(p.live_table().delete())
        conn.exec_driver_sql("DELETE FROM projection_positions")
    for kind in KINDS:
        kind(app, engine, batch_size=5).catch_up()
    assert every_row(engine, together) == after
    assert len(after[1]) == 4 * DISPUTES and len(after[2]) == DISPUTES


def test_a_round_reads_the_log_once_and_decodes_each_event_once(store, monkeypatch):
    app, engine, _ = store
    together = projections(app, engine)
    reads, decoded = [], []
    select_notifications, to_domain_event = app.recorder.select_notifications, app.mapper.to_domain_event
    monkeypatch.setattr(app.recorder, "select_notifications",
                        lambda *a, **k: reads.append(a) or select_notifications(*a, **k))
    monkeypatch.setattr(app.mapper, "to_domain_event", lambda n: decoded.append(n.id) or to_domain_event(n))
    assert ProjectionFollower(together, batch_size=100).follow_once() == 4 * DISPUTES
    assert len(reads) == 1
    assert sorted(decoded) == sorted(set(decoded)) and len(decoded) == 4 * DISPUTES


def test_rows_and_positions_of_every_projection_commit_together(store, monkeypatch):
    app, engine, _ = store
    together = projections(app, engine)
    follower = ProjectionFollower(together, batch_size=100)
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    follower.follow_once()
    assert len(commits) == 1
    assert {p.position() for p in together} == {4 * DISPUTES}


def test_a_projection_that_cannot_write_holds_the_others_back_not(store, monkeypatch):
    app, engine, ids = store
    index, line, record = together = projections(app, engine)
    monkeypatch.setattr(timeline, "insert_missing", _fails)
    follower = ProjectionFollower(together, batch_size=100)
    follower.follow_once()
    head = app.recorder.max_notification_id()
    assert (index.position(), line.position(), record.position()) == (head, 0, head)
    assert rows(engine, index.live_table()) == loaded_index_rows(app, ids)
    assert rows(engine, line.live_table()) == []
    monkeypatch.undo()
    follower.catch_up()  # it catches up on its own once it can write again
    assert line.position() == head and len(rows(engine, line.live_table())) == 4 * DISPUTES


def test_a_projection_that_cannot_prepare_its_rows_holds_the_others_back_not(store, monkeypatch):
    # e.g. an event it cannot decode: the round falls back to each projection alone
    app, engine, ids = store
    index, line, record = together = projections(app, engine)
    monkeypatch.setattr(type(line), "prepare", _fails)
    ProjectionFollower(together, batch_size=100).follow_once()
    head = app.recorder.max_notification_id()
    assert (index.position(), record.position()) == (head, head)
    assert rows(engine, index.live_table()) == loaded_index_rows(app, ids)


def test_projections_at_different_positions_each_reach_the_head(store):
    app, engine, ids = store
    index, line, record = together = projections(app, engine)
    TimelineProjection(app, engine, batch_size=DISPUTES).catch_up_once()  # the timeline ahead
    ProjectionFollower(together, batch_size=7).catch_up()
    head = app.recorder.max_notification_id()
    assert [p.position() for p in together] == [head] * 3
    assert rows(engine, index.live_table()) == loaded_index_rows(app, ids)
    assert len(rows(engine, line.live_table())) == 4 * DISPUTES


def test_a_small_batch_is_one_statement_per_table_with_the_rows_of_the_copy_path(store, url, monkeypatch):
    app, engine, ids = store
    together = projections(app, engine)
    statements = []
    if url.startswith("postgresql"):  # every statement, SQLAlchemy's and those sent directly
        for name in ("execute", "executemany", "copy"):
            monkeypatch.setattr(psycopg.Cursor, name, _noting(statements, getattr(psycopg.Cursor, name)))
    else:
        event.listen(engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *rest: statements.append(" ".join(statement.split())))
    ProjectionFollower(together).catch_up()
    monkeypatch.undo()
    in_the_round = list(statements)  # the listener on SQLite stays: what the round sent alone
    small = every_row(engine, together)
    written = [" ".join(s.split()[:3]) for s in in_the_round
               if s.split()[0] in ("INSERT", "UPDATE", "COPY", "CREATE", "DROP") and "projection_positions" not in s]
    assert written == ["INSERT INTO dispute_index", "INSERT INTO timeline_entries",
                       "INSERT INTO seller_record_facts"]
    # the seller record reads the batch's stored rows once, not once for each of its disputes
    assert len([s for s in in_the_round if s.startswith("SELECT") and "FROM seller_record_facts" in s]) == 1
    monkeypatch.setattr(upserts, "SMALL_BATCH", 0)  # every batch through the COPY path
    with engine.begin() as conn:
        for p in together:
            conn.execute(p.live_table().delete())
        conn.exec_driver_sql("DELETE FROM projection_positions")
    ProjectionFollower(projections(app, engine)).catch_up()
    assert every_row(engine, together) == small
    assert small[0] == loaded_index_rows(app, ids)
    assert len(small[2]) == DISPUTES


def _noting(statements: list, original):
    def noted(cursor, statement, *args, **kwargs):
        statements.append(" ".join(str(statement).split()))
        return original(cursor, statement, *args, **kwargs)
    return noted


def _fails(*args, **kwargs):
    raise RuntimeError("this projection cannot write")


def test_a_round_another_runner_projected_first_is_not_written_twice(store, monkeypatch):
    app, engine, ids = store
    mine, other = ProjectionFollower(projections(app, engine)), ProjectionFollower(projections(app, engine))
    select_notifications, overtaken = app.recorder.select_notifications, []

    def overtaken_after_reading(*args, **kwargs):
        read = select_notifications(*args, **kwargs)
        if not overtaken:
            overtaken.append(None)  # the other runner's round, between my read and my write
            overtaken[0] = other.follow_once()
        return read

    monkeypatch.setattr(app.recorder, "select_notifications", overtaken_after_reading)
    assert mine.follow_once() == 0  # its batch was the other's: nothing of it written again
    head = app.recorder.max_notification_id()
    assert overtaken == [head]
    assert [p.position() for p in mine.projections] == [head] * 3
    assert rows(engine, mine.projections[0].live_table()) == loaded_index_rows(app, ids)
    assert len(rows(engine, mine.projections[1].live_table())) == 4 * DISPUTES
