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
from services.dispute.projections.dispute_index import (DisputeIndexProjection, index_row,
                                                       live_index_table)
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
            wait_until_a_session_waits_on_a_lock(self.engine, self.second)

    return FirstOfTwo


def wait_until_a_session_waits_on_a_lock(engine, second=None, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if second is not None and second.done():  # it ended without waiting: say how
                raise AssertionError(f"the second runner ended without waiting: {second.result()!r}")
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                        "current_database() AND wait_event_type = 'Lock'")).scalar()
            conn.rollback()  # pg_stat_activity is read once a transaction: the next poll looks again
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


def test_a_stale_runner_and_a_current_one_never_deadlock_on_the_index(pg_url):
    """Two runners project overlapping batches whose disputes come in opposite orders, again
    and again at the same moment: each statement locks its rows in dispute-id order, so neither
    ever waits for the other crosswise (PostgreSQL would abort one with a deadlock)."""
    settings = DisputeSettings(database_url=pg_url)
    app, engine = build_application(settings), sqlalchemy_engine(pg_url)
    runners = [DisputeIndexProjection(app, engine) for _ in range(2)]
    runners[0].create_tables()
    hi, lo = (open_with_offer(app, n) for n in orders_in_descending_dispute_ids(settings))
    runners[0].catch_up()
    table = live_index_table(engine)
    with engine.begin() as conn:  # each row update takes a while: the runners interleave
        conn.exec_driver_sql("CREATE FUNCTION slow_row() RETURNS trigger AS $$ BEGIN "
                             "PERFORM pg_sleep(0.2); RETURN NEW; END $$ LANGUAGE plpgsql")
        conn.exec_driver_sql(f"CREATE TRIGGER slow_rows BEFORE UPDATE ON {table.name} "
                             "FOR EACH ROW EXECUTE FUNCTION slow_row()")
    start = threading.Barrier(2)

    def write(runner, order, round_):
        rows = [index_row(app.repository.get(d)) for d in order]
        start.wait(10)
        with engine.begin() as conn:
            runner.write(conn, table, rows)
        return round_

    with ThreadPoolExecutor(2) as pool:
        for round_ in range(3):
            done = [pool.submit(write, runners[0], (hi, lo), round_),
                    pool.submit(write, runners[1], (lo, hi), round_)]
            assert [f.result(timeout=30) for f in done] == [round_, round_]
    engine.dispose()


def post_message(app, dispute_id) -> None:
    at = NOW + timedelta(days=2)
    app.execute(dispute_id, at, lambda d: d.post_message(
        message_id=f"M-{dispute_id}", text="any news?", actor=Actor(Role.BUYER, "B-1"), at=at))
