"""Each long-running service freezes what start-up built out of the cyclic collector's walks
while it serves (services/common/bulk_gc.py: serving_heap; `<SERVICE>_GC_YOUNG_THRESHOLD`),
and leaves the collector as it found it (0: the collector untouched)."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from infra.ports import free_port
from services.dispute.entrypoints.serve import create_app as dispute_app
from services.dispute.settings import DisputeSettings
from services.notification.main import create_app as notification_app
from services.notification.settings import NotificationSettings
from services.refund.main import create_app as refund_app
from services.refund.settings import RefundSettings
from tests.support.tokens import SECRET

UNREACHABLE_KAFKA = f"127.0.0.1:{free_port()}"  # nobody listens there


def dispute(tmp_path, **settings):
    return dispute_app(DisputeSettings(database_url=f"sqlite:///{tmp_path}/dispute.sqlite", jwt_secret=SECRET,
                                       kafka_bootstrap=UNREACHABLE_KAFKA, evidence_dir=str(tmp_path / "evidence"),
                                       **settings), run_consumers=False, run_workers=False)


def notification(tmp_path, **settings):
    return notification_app(NotificationSettings(database_url=f"sqlite:///{tmp_path}/n.sqlite", jwt_secret=SECRET,
                                                 kafka_bootstrap=UNREACHABLE_KAFKA, **settings),
                            run_consumers=False)


def refund(tmp_path, **settings):
    return refund_app(RefundSettings(database_url=f"sqlite:///{tmp_path}/refund.sqlite", **settings),
                      run_consumers=False)


SERVICES = {"dispute": (dispute, DisputeSettings, 2000), "notification": (notification, NotificationSettings, 20_000),
            "refund": (refund, RefundSettings, 20_000)}


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_serves_with_start_up_frozen_and_its_young_threshold(tmp_path, service):
    build, settings, default = SERVICES[service]
    assert settings.model_fields["gc_young_threshold"].default == default
    before = gc.get_threshold()
    with TestClient(build(tmp_path, gc_young_threshold=4321)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (4321, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


@pytest.mark.parametrize("service", SERVICES)
def test_zero_leaves_the_collector_alone(tmp_path, service):
    build = SERVICES[service][0]
    before = gc.get_threshold()
    with TestClient(build(tmp_path, gc_young_threshold=0)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
