"""The services as processes, started as an operator (or `make run`) would start them: outside
local mode they refuse the development secret and say which variable to set; in `make run`'s
local mode a `make token` token works on both APIs; no password reaches the logs."""

import subprocess
import sys
import time
from uuid import uuid4

import httpx
import pytest

from infra.ports import free_port
from services.common.auth import DEV_SECRET
from tests.support.keys import DISPUTE_KEYS
from tests.support.processes import ROOT, ServiceProcess
from tests.support.tokens import SECRET
from tools.run_local import service_env

pytestmark = pytest.mark.e2e
# a broker nobody listens on, and each service's own principal for it (required outside local mode)
CLOSED_KAFKA = {"DISPUTE_KAFKA_BOOTSTRAP": "127.0.0.1:1", "NOTIFICATION_KAFKA_BOOTSTRAP": "127.0.0.1:1",
                "DISPUTE_KAFKA_USERNAME": "dispute", "DISPUTE_KAFKA_PASSWORD": "unused",
                "NOTIFICATION_KAFKA_USERNAME": "notification", "NOTIFICATION_KAFKA_PASSWORD": "unused",
                **DISPUTE_KEYS}
SERVICES = {"dispute": ("services.dispute.main", ["serve"]), "notification": ("services.notification.main", [])}


def exit_code(proc: ServiceProcess, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while proc.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.stop()
    return proc.process.returncode


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_outside_local_mode_refuses_the_development_secret_and_names_the_variable(service, tmp_path):
    prefix = service.upper()
    env = {**CLOSED_KAFKA, "PLATFORM_LOCAL_MODE": "false", f"{prefix}_JWT_SECRET": DEV_SECRET,
           f"{prefix}_DATABASE_URL": f"sqlite:///{tmp_path}/{service}.sqlite",
           f"{prefix}_HTTP_PORT": str(free_port())}
    proc = ServiceProcess(service, *SERVICES[service], env, tmp_path)
    assert exit_code(proc) == 2
    log = proc.log_path.read_text()
    assert "refused_to_start" in log and f"{prefix}_JWT_SECRET is the development secret" in log
    assert "Traceback" not in log
    assert not (tmp_path / f"{service}.sqlite").exists()


def make_token(role: str, sub: str, env: dict[str, str]) -> str:
    """What `make token ROLE=... SUB=...` runs."""
    return subprocess.run([sys.executable, "-m", "tools.dev", "token", "--role", role, "--sub", sub],
                          cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()


def test_make_runs_local_mode_takes_a_make_token_token_on_both_apis(tmp_path):
    ports = {name: free_port() for name in SERVICES}
    env = {**service_env(), **CLOSED_KAFKA,
           "DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/dispute.sqlite",
           "NOTIFICATION_DATABASE_URL": f"sqlite:///{tmp_path}/notification.sqlite",
           "DISPUTE_HTTP_PORT": str(ports["dispute"]), "NOTIFICATION_HTTP_PORT": str(ports["notification"])}
    env.pop("DISPUTE_JWT_SECRET", None), env.pop("NOTIFICATION_JWT_SECRET", None)
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    procs = [ServiceProcess(name, module, args, env, tmp_path, f"{url[name]}/health")
             for name, (module, args) in SERVICES.items()]
    try:
        for proc in procs:
            proc.wait_healthy()
        headers = {"Authorization": f"Bearer {make_token('buyer', 'B-1', env)}"}
        dispute = httpx.get(f"{url['dispute']}/v1/disputes/{uuid4()}", headers=headers)
        inbox = httpx.get(f"{url['notification']}/v1/notifications", headers=headers)
    finally:
        for proc in procs:
            proc.stop()
    assert (dispute.status_code, dispute.json()["code"]) == (404, "DISPUTE_NOT_FOUND")
    assert inbox.status_code == 200, inbox.text


def test_the_database_password_never_reaches_the_log(postgres, tmp_path):
    url = postgres.create_database("masked_url_dispute").replace("@", ":pw-s3cret-do-not-log@", 1)
    port = free_port()
    env = {**CLOSED_KAFKA, "DISPUTE_DATABASE_URL": url, "DISPUTE_JWT_SECRET": SECRET,
           "DISPUTE_HTTP_PORT": str(port), "DISPUTE_RUN_WORKERS": "false"}
    proc = ServiceProcess("dispute", *SERVICES["dispute"], env, tmp_path, f"http://127.0.0.1:{port}/health")
    try:
        proc.wait_healthy()
    finally:
        proc.stop()
    log = proc.log_path.read_text()
    started = next(line for line in log.splitlines() if "dispute_api_started" in line)
    assert url.replace("pw-s3cret-do-not-log", "***") in started
    assert "pw-s3cret-do-not-log" not in log


@pytest.mark.parametrize("command, variable", [(["relay"], "DISPUTE_AUDIT_KEY"), (["serve"], "DISPUTE_ID_KEY")])
def test_the_relay_and_api_refuse_a_development_key_outside_local_mode(command, variable, tmp_path):
    env = {**CLOSED_KAFKA, "PLATFORM_LOCAL_MODE": "false", "DISPUTE_JWT_SECRET": SECRET,
           "DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/dispute.sqlite", "DISPUTE_RELAY_METRICS_PORT": "0"}
    env.pop(variable)
    proc = ServiceProcess("dispute", "services.dispute.main", command, env, tmp_path)
    assert exit_code(proc) == 2
    log = proc.log_path.read_text()
    assert f"{variable} is the development default" in log and "Traceback" not in log
    assert not (tmp_path / "dispute.sqlite").exists()


def test_the_refund_service_refuses_to_start_as_an_anonymous_kafka_client(tmp_path):
    env = {"PLATFORM_LOCAL_MODE": "false", "REFUND_KAFKA_BOOTSTRAP": "127.0.0.1:1",
           "REFUND_DATABASE_URL": f"sqlite:///{tmp_path}/refund.sqlite", "REFUND_HTTP_PORT": str(free_port())}
    proc = ServiceProcess("refund", "services.refund.main", [], env, tmp_path)
    assert exit_code(proc) == 2
    assert "REFUND_KAFKA_USERNAME and REFUND_KAFKA_PASSWORD are required" in proc.log_path.read_text()
