"""The refund service freezes what start-up built out of the cyclic collector's walks while it
serves (services/common/bulk_gc.py: serving_heap, REFUND_GC_YOUNG_THRESHOLD), and leaves the
collector as it found it."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from services.refund.main import create_app
from services.refund.settings import RefundSettings


def app(tmp_path, **settings):
    return create_app(RefundSettings(database_url=f"sqlite:///{tmp_path}/refund.sqlite", **settings),
                      run_consumers=False)


def test_the_refund_service_serves_with_start_up_frozen_and_its_young_threshold(tmp_path):
    before = gc.get_threshold()
    assert RefundSettings().gc_young_threshold == 20_000
    with TestClient(app(tmp_path, gc_young_threshold=4321)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (4321, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_zero_leaves_the_collector_alone(tmp_path):
    before = gc.get_threshold()
    with TestClient(app(tmp_path, gc_young_threshold=0)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
