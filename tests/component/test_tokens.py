"""Bearer tokens on the dispute and notification APIs: a service starts only with a secret fit
for use (outside local mode), and accepts a token only from its issuer, for its own audience,
with a bounded lifetime. Every refusal is 401 UNAUTHENTICATED as problem+json."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.common.auth import DEV_SECRET, LOCAL_ISSUER, AuthError, Principal
from services.common.local_mode import UnsafeSettings
from services.common.token_settings import build_token_verifier
from services.dispute.entrypoints.serve import create_app as create_dispute
from services.dispute.settings import DisputeSettings
from services.notification.main import create_app as create_notification
from services.notification.settings import NotificationSettings
from tests.component.test_api_support import Clock, running_api
from tests.support.orders import order_placed
from tests.support.tokens import SECRET, hs256_signed_with
from tools.dev import cli as dev_cli

SERVICES = {"dispute": (DisputeSettings, create_dispute, "DISPUTE_JWT_SECRET"),
            "notification": (NotificationSettings, create_notification, "NOTIFICATION_JWT_SECRET")}


def claims(**changes) -> dict:
    now = datetime.now(timezone.utc)
    base = {"sub": "B-1", "role": "buyer", "iss": LOCAL_ISSUER, "aud": "dispute-api",
            "iat": now, "exp": now + timedelta(hours=1)}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def auth(token_claims: dict, key=SECRET, algorithm="HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(token_claims, key, algorithm=algorithm)}"}


def assert_unauthenticated(response, mentions: str) -> None:
    assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED"), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert mentions in response.json()["detail"]


def settings_of(service: str, tmp_path, **values):
    settings_class = SERVICES[service][0]
    return settings_class(database_url=f"sqlite:///{tmp_path}/{service}.sqlite", **values)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_refuses_to_start_on_the_development_secret(service, tmp_path):
    _, create, variable = SERVICES[service]
    with pytest.raises(UnsafeSettings, match=f"{variable} is the development secret"):
        create(settings_of(service, tmp_path, local_mode=False), run_consumers=False)
    assert not (tmp_path / f"{service}.sqlite").exists()


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_refuses_to_start_on_a_secret_under_32_bytes(service, tmp_path):
    _, create, variable = SERVICES[service]
    with pytest.raises(UnsafeSettings, match=f"{variable} is shorter than 32 bytes"):
        create(settings_of(service, tmp_path, jwt_secret="x" * 31), run_consumers=False)


@pytest.mark.parametrize("service", SERVICES)
def test_local_mode_starts_on_the_development_secret(service, tmp_path):
    _, create, _ = SERVICES[service]
    app = create(settings_of(service, tmp_path, local_mode=True), run_consumers=False)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200


def test_local_mode_is_one_variable_for_every_service(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_LOCAL_MODE", "true")
    assert settings_of("dispute", tmp_path).local_mode and settings_of("notification", tmp_path).local_mode


@pytest.fixture(scope="module")
def dispute_api(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("tokens"), Clock(), order_placed()) as api:
        api.open()
        yield api


@pytest.fixture(scope="module")
def notification_api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokens-notification")
    app = create_notification(settings_of("notification", folder, jwt_secret=SECRET),
                              run_consumers=False)
    with TestClient(app) as client:
        yield client


def test_the_dispute_api_accepts_a_token_from_its_issuer_for_its_audience(dispute_api):
    assert dispute_api.client.get(dispute_api.url(""), headers=auth(claims())).status_code == 200


@pytest.mark.parametrize("missing", ["iss", "aud", "iat", "exp", "sub", "role"])
def test_a_token_without_a_required_claim_is_unauthenticated(dispute_api, missing):
    response = dispute_api.client.get(dispute_api.url(""), headers=auth(claims(**{missing: None})))
    assert_unauthenticated(response, f'missing the "{missing}" claim')


def test_a_token_from_another_issuer_is_unauthenticated(dispute_api):
    response = dispute_api.client.get(dispute_api.url(""), headers=auth(claims(iss="https://evil.example")))
    assert_unauthenticated(response, f"its issuer (iss) is not {LOCAL_ISSUER}")


def test_the_dispute_api_refuses_a_token_for_the_notification_api(dispute_api):
    response = dispute_api.client.get(dispute_api.url(""), headers=auth(claims(aud="notification-api")))
    assert_unauthenticated(response, "its audience (aud) is not dispute-api")


def test_the_notification_api_refuses_a_token_for_the_dispute_api(notification_api):
    response = notification_api.get("/v1/notifications", headers=auth(claims(aud="dispute-api")))
    assert_unauthenticated(response, "its audience (aud) is not notification-api")


def test_the_notification_api_accepts_a_token_for_its_own_audience(notification_api):
    response = notification_api.get("/v1/notifications", headers=auth(claims(aud="notification-api")))
    assert response.status_code == 200, response.text


def test_a_token_valid_until_2100_is_unauthenticated(dispute_api):
    until_2100 = claims(exp=datetime(2100, 1, 1, tzinfo=timezone.utc))
    assert_unauthenticated(dispute_api.client.get(dispute_api.url(""), headers=auth(until_2100)),
                           "longer than the 24 h this service accepts")


@pytest.mark.parametrize("times", [{"exp": 10 ** 400}, {"exp": 1e308}, {"iat": -(10 ** 400)}],
                         ids=["exp-beyond-a-float", "exp-beyond-a-date", "iat-beyond-a-float"])
def test_a_signed_token_with_an_impossible_time_is_unauthenticated_never_a_500(dispute_api, times):
    token = hs256_signed_with(SECRET.encode(), claims(**times))
    response = dispute_api.client.get(dispute_api.url(""), headers={"Authorization": f"Bearer {token}"})
    assert_unauthenticated(response, "invalid token")


def test_a_token_of_exactly_the_maximum_lifetime_is_accepted(dispute_api):
    now = datetime.now(timezone.utc)
    day = claims(iat=now, exp=now + timedelta(hours=24))
    assert dispute_api.client.get(dispute_api.url(""), headers=auth(day)).status_code == 200


def test_a_token_issued_in_the_future_beyond_the_leeway_is_unauthenticated(dispute_api):
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    ahead = claims(iat=later, exp=later + timedelta(hours=1))
    assert_unauthenticated(dispute_api.client.get(dispute_api.url(""), headers=auth(ahead)),
                           "not yet valid")


def test_a_token_expired_within_the_leeway_is_still_accepted(dispute_api):
    now = datetime.now(timezone.utc)
    just_expired = claims(iat=now - timedelta(hours=1), exp=now - timedelta(seconds=5))
    assert dispute_api.client.get(dispute_api.url(""), headers=auth(just_expired)).status_code == 200


def test_an_unsigned_token_is_unauthenticated(dispute_api):
    unsigned = jwt.encode(claims(), None, algorithm="none")
    response = dispute_api.client.get(dispute_api.url(""), headers={"Authorization": f"Bearer {unsigned}"})
    assert_unauthenticated(response, "algorithm 'none' is not accepted")


def test_a_garbled_token_is_unauthenticated(dispute_api):
    response = dispute_api.client.get(dispute_api.url(""), headers={"Authorization": "Bearer a.b.c"})
    assert_unauthenticated(response, "invalid token")


def test_a_token_signed_with_the_development_secret_is_refused_by_a_service_with_its_own(dispute_api):
    response = dispute_api.client.get(dispute_api.url(""), headers=auth(claims(), key=DEV_SECRET))
    assert_unauthenticated(response, "Signature verification failed")


def make_token(*options: str) -> str:
    result = CliRunner().invoke(dev_cli, ["token", *options], env={"DISPUTE_JWT_SECRET": DEV_SECRET})
    assert result.exit_code == 0, result.output
    return f"Bearer {result.output.strip()}"


def local_verifiers(tmp_path):
    return {service: build_token_verifier(settings_of(service, tmp_path, local_mode=True))
            for service in SERVICES}


def test_make_token_mints_one_token_both_local_apis_accept(tmp_path):
    token = make_token("--role", "seller", "--sub", "S-1")
    assert {s: v.read(token) for s, v in local_verifiers(tmp_path).items()} == {
        "dispute": Principal("seller", "S-1"), "notification": Principal("seller", "S-1")}


def test_a_make_token_for_the_dispute_api_only_is_refused_by_the_notification_api(tmp_path):
    token = make_token("--role", "buyer", "--sub", "B-1", "--aud", "dispute-api")
    verifiers = local_verifiers(tmp_path)
    assert verifiers["dispute"].read(token) == Principal("buyer", "B-1")
    with pytest.raises(AuthError, match="not notification-api"):
        verifiers["notification"].read(token)
