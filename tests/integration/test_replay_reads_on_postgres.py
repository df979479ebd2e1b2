"""The replay's read of a notification log (adapters/replay_reads.py) gives the recorder's rows:
the same ids, dispute ids, versions, topics and state bytes, in the same order, batch by batch
and up to a stop."""

import pytest

from services.dispute.adapters.replay_reads import read_notifications
from services.dispute.bootstrap import build_application
from services.dispute.settings import DisputeSettings
from tests.integration.test_projection_rebuild_on_postgres import open_with_offer

pytestmark = pytest.mark.integration
FIELDS = ("id", "originator_id", "originator_version", "topic", "state")


def as_tuples(rows) -> list[tuple]:
    return [tuple(getattr(row, name) for name in FIELDS) for row in rows]


def test_rows_are_the_recorders(pg_url):
    app = build_application(DisputeSettings(database_url=pg_url))
    for n in range(5):
        open_with_offer(app, n)
    head = app.recorder.max_notification_id()
    assert head and head >= 10
    for start, limit, stop in [(0, 1000, None), (0, 3, None), (4, 3, None), (2, 100, 7), (head, 10, None)]:
        expected = app.recorder.select_notifications(start, limit, stop=stop, inclusive_of_start=False)
        got = read_notifications(app.recorder, start, limit, stop)
        assert as_tuples(got) == as_tuples(expected)
        assert all(type(row.state) is bytes and type(row.originator_id) is type(e.originator_id)
                   for row, e in zip(got, expected))
    assert read_notifications(app.recorder, head, 10) == []
