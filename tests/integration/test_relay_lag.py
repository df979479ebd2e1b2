"""Relay lag: events stored but not yet published, and the age of the oldest, from the store."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.common.metrics import serve_metrics
from services.dispute.bootstrap import build_application
from services.dispute.entrypoints.serve import create_app
from services.dispute.relay.relay import RelayPosition
from services.dispute.relay.lag import measure_lag
from services.dispute.relay.metrics import RelayMetrics
from services.dispute.settings import DisputeSettings
from tests.support.relay_streams import open_disputes
from tests.support.tokens import SECRET, bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(pg_url, kafka):
    return DisputeSettings(database_url=pg_url, **kafka.settings(), jwt_secret=SECRET)


@pytest.fixture
def three_unpublished(settings):
    app = build_application(settings)
    position = RelayPosition(sqlalchemy_engine(settings.database_url), settings.events_topic)
    position.create_tables()
    open_disputes(app, 3)
    return app, position


def test_the_lag_counts_unpublished_events_and_ages_the_oldest(three_unpublished):
    app, position = three_unpublished
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    lag = measure_lag(app, position, later)
    assert (lag.position, lag.events_pending) == (0, 3)
    assert 59 < lag.oldest_pending_age_seconds < 120
    position.set(app.recorder.max_notification_id())
    caught_up = measure_lag(app, position, later)
    assert (caught_up.events_pending, caught_up.oldest_pending_age_seconds) == (0, 0.0)


def test_operators_read_the_relay_lag_over_http_and_parties_may_not(settings, three_unpublished):
    with TestClient(create_app(settings, run_consumers=False)) as api:
        lag = api.get("/v1/ops/relay-lag", headers=bearer("operator", "OP-1"))
        refused = api.get("/v1/ops/relay-lag", headers=bearer("seller", "S-1"))
    assert lag.status_code == 200, lag.text
    assert (lag.json()["events_pending"], lag.json()["last_notification_id"]) == (3, 3)
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN")


def test_the_lag_is_served_as_prometheus_metrics(three_unpublished):
    app, position = three_unpublished
    metrics = RelayMetrics(CollectorRegistry(),
                           lambda: measure_lag(app, position, datetime.now(timezone.utc)))
    port = free_port()
    server = serve_metrics(metrics.registry, "127.0.0.1", port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    assert "dispute_relay_events_pending 3.0" in text
    assert "dispute_relay_oldest_pending_age_seconds" in text and "dispute_relay_active 0.0" in text
