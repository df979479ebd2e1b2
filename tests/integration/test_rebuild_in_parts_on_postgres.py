"""A rebuild by worker processes (DISPUTE_REPLAY_WORKERS), each projecting a part of the
disputes, gives the rows of a sequential rebuild, and its positions let the live runner follow."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.common.database import sqlalchemy_engine
from services.dispute.adapters.replay_workers import ReplayWorkers
from services.dispute.bootstrap import build_application
from services.dispute.entrypoints.cli import _store_and_engine_from_environment
from services.dispute.projections import rebuild as rebuilding
from services.dispute.projections.rebuild import PROJECTIONS, rebuild, status
from services.dispute.settings import DisputeSettings
from services.dispute.projections.dispute_index import DisputeIndexProjection
from tests.integration.test_projection_rebuild_on_postgres import BUYER, NOW, open_with_offer

pytestmark = pytest.mark.integration


def rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


@pytest.fixture
def store(pg_url, monkeypatch):
    """Thirty disputes, a third of them escalated later (their events interleaved in the log)."""
    monkeypatch.setenv("DISPUTE_DATABASE_URL", pg_url)  # what the workers open
    app, engine = build_application(DisputeSettings(database_url=pg_url)), sqlalchemy_engine(pg_url)
    for kind in PROJECTIONS.values():
        kind(app, engine).create_tables()
    ids = [open_with_offer(app, n) for n in range(30)]
    for dispute_id in ids[::3]:
        at = NOW + timedelta(days=5)
        app.execute(dispute_id, at, lambda d: d.escalate(note="no", actor=BUYER, at=at))
    yield app, engine, ids
    engine.dispose()


@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_parts_equal_sequential(store, name, monkeypatch):
    """A rebuild in parts gives the rows of a sequential one."""
    app, engine, _ = store
    kind = PROJECTIONS[name]
    sequential = rebuild(kind, app, engine, grace_seconds=0, batch_size=7)
    expected = rows(engine, kind(app, engine).live_table())
    parted = []
    monkeypatch.setattr(rebuilding, "_project_in_parts", lambda *a, real=rebuilding._project_in_parts:
                        parted.append(real(*a)) or parted[-1])
    workers = ReplayWorkers(2, 1, _store_and_engine_from_environment)
    result = rebuild(kind, app, engine, grace_seconds=0, batch_size=7, workers=workers)
    assert parted == [100]  # the whole log went through the two workers
    assert result.events == sequential.events == 100
    assert rows(engine, kind(app, engine).live_table()) == expected
    assert all(s["behind"] == 0 for s in status(app, engine) if s["name"] == name)


def test_followed_after_parts(store):
    """Events after a rebuild in parts are followed from its position."""
    app, engine, ids = store
    workers = ReplayWorkers(2, 1, _store_and_engine_from_environment)
    rebuild(DisputeIndexProjection, app, engine, grace_seconds=0, workers=workers)
    at = NOW + timedelta(days=6)
    app.execute(ids[1], at, lambda d: d.escalate(note="later", actor=BUYER, at=at))
    index = DisputeIndexProjection(app, engine)
    assert index.catch_up() == 1  # only the new event: the parts' rows are not projected again
    table = index.live_table()
    with engine.connect() as conn:
        assert conn.execute(select(table.c.status).where(table.c.dispute_id == str(ids[1]))).scalar() == "UNDER_REVIEW"


def test_postgres_reads_each_part_as_dispute_part_says(store):
    from services.dispute.adapters.part_reads import dispute_part, part_notifications

    app, _, _ = store
    everything = app.recorder.select_notifications(0, 1000, inclusive_of_start=False)
    for part in range(3):
        mine, read_to = part_notifications(app.recorder, 0, 100, 1000, part, 3)
        assert [n.id for n in mine] == [n.id for n in everything if dispute_part(n.originator_id, 3) == part]
        assert read_to == 100  # fewer than the limit: the whole range was read


def test_postgres_reads_a_part_a_window_of_ids_at_a_time(store):
    """Each read covers at most limit * parts ids (a wide range made the planner scan the whole
    table for every batch), and reading on from where each read ended gives the part's events
    once each, in order."""
    from services.dispute.adapters.part_reads import dispute_part, part_notifications

    app, _, _ = store
    everything = app.recorder.select_notifications(0, 1000, inclusive_of_start=False)
    for part in range(3):
        start, seen = 0, []
        while start < 100:
            mine, read_to = part_notifications(app.recorder, start, 100, 4, part, 3)
            assert start < read_to <= min(100, start + 12)
            assert all(start < n.id <= read_to for n in mine) and len(mine) <= 4
            assert read_to == (mine[-1].id if len(mine) == 4 else min(100, start + 12))
            seen += [n.id for n in mine]
            start = read_to
        assert seen == [n.id for n in everything if dispute_part(n.originator_id, 3) == part]


@pytest.fixture
def sharded(postgres, request, monkeypatch):
    """Two event-store shards and a service database; twenty disputes over both."""
    from services.dispute.bootstrap import build_disputes

    suffix = "parts_" + request.node.name[-12:].lower().replace("[", "").replace("]", "")
    urls = [postgres.create_database(f"{suffix}_{name}") for name in ("service", "s0", "s1")]
    monkeypatch.setenv("DISPUTE_DATABASE_URL", urls[0])
    monkeypatch.setenv("DISPUTE_SHARD_URLS", ",".join(urls[1:]))
    settings = DisputeSettings()
    disputes, engine = build_disputes(settings), sqlalchemy_engine(urls[0])
    for kind in PROJECTIONS.values():
        kind(disputes, engine).create_tables()
    for n in range(20):
        open_with_offer(disputes, n)
    yield disputes, engine
    engine.dispose()


def test_parts_over_two_shards(sharded, monkeypatch):
    """Over two shards, a rebuild in parts gives the sequential rows, every shard's position set."""
    disputes, engine = sharded
    parted = []
    monkeypatch.setattr(rebuilding, "_project_in_parts", lambda *a, real=rebuilding._project_in_parts:
                        parted.append(real(*a)) or parted[-1])
    assert all(shard.recorder.max_notification_id() for shard in disputes.shards)  # both hold disputes
    rebuild(DisputeIndexProjection, disputes, engine, grace_seconds=0)
    expected = rows(engine, DisputeIndexProjection(disputes, engine).live_table())
    workers = ReplayWorkers(2, 1, _store_and_engine_from_environment)
    result = rebuild(DisputeIndexProjection, disputes, engine, grace_seconds=0, workers=workers)
    assert parted == [60] and result.events == 60  # both shards went through the workers
    assert rows(engine, DisputeIndexProjection(disputes, engine).live_table()) == expected
    index_status = [s for s in status(disputes, engine) if s["name"] == "dispute_index"]
    assert len(index_status) == 2 and all(s["behind"] == 0 and s["position"] > 0 for s in index_status)
