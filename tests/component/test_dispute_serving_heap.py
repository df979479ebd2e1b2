"""The dispute API freezes what start-up built out of the cyclic collector's walks while it
serves (services/common/bulk_gc.py: serving_heap), and leaves the collector as it found it."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from infra.ports import free_port
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.tokens import SECRET

UNREACHABLE_KAFKA = f"127.0.0.1:{free_port()}"  # nobody listens there


def app(tmp_path, **settings):
    return create_app(DisputeSettings(database_url=f"sqlite:///{tmp_path}/dispute.sqlite", jwt_secret=SECRET,
                                      kafka_bootstrap=UNREACHABLE_KAFKA, evidence_dir=str(tmp_path / "evidence"),
                                      **settings), run_consumers=False, run_workers=False)


def test_the_api_serves_with_start_up_frozen_and_its_young_threshold(tmp_path):
    before = gc.get_threshold()
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
