"""Every HTTP service limits request bodies (413 PAYLOAD_TOO_LARGE before reading a declared
length over the limit, cut off while streaming without one); the notification service also
authenticates writes before their body and rate-limits them per principal."""

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from services.notification.main import create_app as notification_app
from services.notification.settings import NotificationSettings
from standins.payment_provider.app import create_app as simulator_app
from standins.payment_provider.settings import SimulatorSettings
from services.refund.main import create_app as refund_app
from services.refund.settings import RefundSettings
from tests.support.asgi import call_raw
from tests.support.tokens import SECRET, bearer

MB = 1024 * 1024
SIXTY_MB = {"content-type": "application/json", "content-length": str(60 * MB)}
CHUNK = b"x" * (64 * 1024)


@pytest.fixture
def notification(tmp_path):
    return notification_app(NotificationSettings(
        database_url=f"sqlite:///{tmp_path}/n.sqlite", jwt_secret=SECRET,
        rate_limit_burst=3, rate_limit_per_second=0.5), run_consumers=False)


@pytest.fixture
def refund(tmp_path):
    return refund_app(RefundSettings(database_url=f"sqlite:///{tmp_path}/r.sqlite"),
                      run_consumers=False)


@pytest.fixture
def simulator(tmp_path):
    return simulator_app(SimulatorSettings(database_url=f"sqlite:///{tmp_path}/p.sqlite"))


ROUTES = {"notification": ("PUT", "/v1/recipients/me"), "refund": ("PUT", "/v1/anything"),
          "simulator": ("POST", "/refunds")}


def send(app, service: str, headers: dict, chunks: list[bytes]):
    method, path = ROUTES[service]
    return asyncio.run(call_raw(app, method, path, headers, chunks))


@pytest.mark.parametrize("service", ["notification", "refund", "simulator"])
def test_a_declared_sixty_megabytes_is_refused_unread(service, request):
    answer = send(request.getfixturevalue(service), service, SIXTY_MB, [CHUNK] * 960)
    assert (answer.status, json.loads(answer.body)["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert answer.chunks_read == 0


@pytest.mark.parametrize("service", ["notification", "simulator"])
def test_a_streamed_body_is_cut_off_just_past_one_megabyte(service, request):
    headers = {"content-type": "application/json",
               **{k.lower(): v for k, v in bearer("seller", "S-1").items()}}
    answer = send(request.getfixturevalue(service), service, headers, [CHUNK] * 960)
    assert answer.status == 413
    assert answer.chunks_read == MB // len(CHUNK) + 1


def test_an_anonymous_write_to_the_inbox_is_refused_before_its_body(notification):
    body = [b'{"time_zone": "Europe/Berlin"' + b" " * (512 * 1024) + b"}"]
    answer = send(notification, "notification", {"content-type": "application/json"}, body)
    assert (answer.status, json.loads(answer.body)["code"]) == (401, "UNAUTHENTICATED")
    assert answer.chunks_read == 0


def test_inbox_writes_past_the_burst_are_rate_limited(notification):
    with TestClient(notification) as client:
        answers = [client.put("/v1/recipients/me", json={"time_zone": "Europe/Berlin"},
                              headers=bearer("seller", "S-1")) for _ in range(4)]
        other = client.put("/v1/recipients/me", json={}, headers=bearer("buyer", "B-1"))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["code"] == "RATE_LIMITED"
    assert answers[-1].headers["Retry-After"] == "2"
    assert other.status_code == 200


def test_a_small_body_still_reaches_the_simulator(simulator):
    with TestClient(simulator) as client:
        response = client.post("/refunds", headers={"Idempotency-Key": "k-1"}, json={
            "amount": "1.00", "currency": "USD", "order_reference": "O-1"})
    assert response.status_code == 201
