"""Two runners of one projection on PostgreSQL, as two API processes run them: when both
project the same batch at once, the one that commits second skips it (PositionMoved) instead
of failing on the rows the first one wrote, and each row is there once."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from services.common.database import sqlalchemy_engine
from services.dispute.bootstrap import build_application
from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.projections.timeline import TimelineProjection
from services.dispute.projections.tracked import PositionMoved
from services.dispute.settings import DisputeSettings
from tests.integration.test_projection_rebuild_on_postgres import open_with_offer

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
