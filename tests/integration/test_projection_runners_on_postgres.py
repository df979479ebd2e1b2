"""Two runners of one projection on PostgreSQL, as two API processes run them: when both
project the same batch at once, the one that commits second skips it (PositionMoved) instead
of failing on the rows the first one wrote, and each row is there once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from services.common.database import sqlalchemy_engine
from services.dispute.bootstrap import build_application
from services.dispute.domain import Actor, Role
from services.dispute.projections import dispute_index
from services.dispute.projections.dispute_index import DisputeIndexProjection, live_index_table
from services.dispute.projections.timeline import TimelineProjection
from services.dispute.projections.tracked import PositionMoved
from services.dispute.settings import DisputeSettings
from tests.integration.test_projection_rebuild_on_postgres import open_with_offer
from tests.support.orders import NOW

pytestmark = pytest.mark.integration


def first_of_two(kind, other, pool: ThreadPoolExecutor):
    class FirstOfTwo(kind):
        """Writes its batch's rows, then holds its transaction open until the other runner,
        started on the same batch, waits on those rows."""

        def write(self, conn, table, prepared):
            super().write(conn, table, prepared)
            self.second = pool.submit(other.catch_up_once)
            wait_until_a_session_waits_on_a_lock(self.engine)

    return FirstOfTwo


def wait_until_a_session_waits_on_a_lock(engine, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                        "current_database() AND wait_event_type = 'Lock'")).scalar()
            if waiting:
                return
            time.sleep(0.05)
    raise TimeoutError("the second runner never reached the rows of the first")


@pytest.mark.parametrize("kind", [TimelineProjection, DisputeIndexProjection])
def test_an_overtaken_runner_skips_its_batch(pg_url, kind):
    app, engine = build_application(DisputeSettings(database_url=pg_url)), sqlalchemy_engine(pg_url)
    second = kind(app, engine)
    second.create_tables()
    for n in range(5):
        open_with_offer(app, n)
    with ThreadPoolExecutor(1) as pool:
        first = first_of_two(kind, second, pool)(app, engine)
        assert first.catch_up_once() == 15  # Opened, SellerResponded, OfferMade of each
        with pytest.raises(PositionMoved):
            first.second.result()
    assert second.catch_up_once() == 0
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(first.live_table())).scalar()
    assert count == (15 if kind is TimelineProjection else 5)
    assert second.position() == app.recorder.max_notification_id()
    engine.dispose()


def orders_in_descending_dispute_ids(settings: DisputeSettings) -> tuple[int, int]:
    """Two order numbers whose disputes' ids sort the other way round than they are opened."""
    ids = settings.dispute_ids()
    first, second = (str(ids.for_new_dispute(f"O-{n}", "I-1")) for n in (0, 1))
    return (0, 1) if first > second else (1, 0)


def test_a_stale_runner_and_a_current_one_never_deadlock_on_the_index(pg_url, monkeypatch):
    """The stale runner read its batch (disputes in the order hi, lo) before the current one
    projected it and then went on with newer events (lo, hi): both update both rows at once."""
    settings = DisputeSettings(database_url=pg_url)
    app, engine = build_application(settings), sqlalchemy_engine(pg_url)
    current = DisputeIndexProjection(app, engine)
    current.create_tables()
    hi, lo = (open_with_offer(app, n) for n in orders_in_descending_dispute_ids(settings))
    pool = ThreadPoolExecutor(1, thread_name_prefix="current-runner")
    holding_first_row = hold_after_first_row_in(monkeypatch, "current-runner", engine)

    class Stale(DisputeIndexProjection):
        def prepare(self, notifications):
            rows = super().prepare(notifications)
            current.catch_up_once()
            for dispute_id in (lo, hi):
                post_message(app, dispute_id)
            self.newer = pool.submit(current.catch_up_once)
            holding_first_row.wait(30)
            return rows

    stale = Stale(app, engine)
    with pool:
        with pytest.raises(PositionMoved):
            stale.catch_up_once()
        assert stale.newer.result() == 2
    with engine.connect() as conn:
        versions = dict(conn.execute(select(live_index_table(engine).c.dispute_id,
                                            live_index_table(engine).c.version)).all())
    assert versions == {str(hi): 4, str(lo): 4}
    engine.dispose()


def hold_after_first_row_in(monkeypatch, thread_prefix: str, engine) -> threading.Event:
    """In threads named `thread_prefix`, the index writer pauses after its first row until
    another session waits on a lock; the event is set once it holds that first row."""
    upsert, holding = dispute_index._upsert, threading.Event()

    def upsert_then_hold(conn, table, row):
        upsert(conn, table, row)
        if threading.current_thread().name.startswith(thread_prefix) and not holding.is_set():
            holding.set()
            wait_until_a_session_waits_on_a_lock(engine)

    monkeypatch.setattr(dispute_index, "_upsert", upsert_then_hold)
    return holding


def post_message(app, dispute_id) -> None:
    at = NOW + timedelta(days=2)
    app.execute(dispute_id, at, lambda d: d.post_message(
        message_id=f"M-{dispute_id}", text="any news?", actor=Actor(Role.BUYER, "B-1"), at=at))
