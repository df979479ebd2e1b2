"""docker-compose.yml keeps the deployment defaults of issue 9.8. No Docker engine runs here, so
the file is checked as data: every secret required, no trust auth, stand-ins and metrics
published nowhere, no container as root, each service on its own database login."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OWN_IMAGE = [name for name, spec in SERVICES.items() if spec.get("build")]


def environment(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[name].get("environment") or {}).items()}


def test_every_secret_is_required_never_defaulted():
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = re.findall(r"\$\{([A-Z_]+)(:[?-][^}]*)?\}", text)
    assert secrets and all(form.startswith(":?") for _, form in secrets), secrets
    for name in ("DISPUTE_JWT_SECRET", "NOTIFICATION_JWT_SECRET", "DISPUTE_ID_KEY", "DISPUTE_AUDIT_KEY",
                 "POSTGRES_PASSWORD", "KAFKA_ADMIN_PASSWORD"):
        assert name in {s for s, _ in secrets}


def test_postgres_uses_scram_and_each_service_its_own_login_and_database():
    assert environment("postgres")["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert "trust" not in (ROOT / "docker-compose.yml").read_text()
    urls = {name: environment(name)[key] for name, key in [
        ("dispute-api", "DISPUTE_DATABASE_URL"), ("notification", "NOTIFICATION_DATABASE_URL"),
        ("refund", "REFUND_DATABASE_URL"), ("payment-simulator", "PAYSIM_DATABASE_URL")]}
    logins = {re.match(r"postgresql://([^:]+):", url).group(1) for url in urls.values()}
    assert len(logins) == 4 and "postgres" not in logins


def test_stand_ins_databases_and_metrics_are_published_nowhere():
    for name in ("payment-simulator", "smtp-sink", "postgres", "dispute-relay", "refund", "kafka-setup"):
        assert "ports" not in SERVICES[name], name
    published = [port for spec in SERVICES.values() for port in spec.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published)
    assert COMPOSE["networks"]["internal"]["internal"] is True


def test_no_container_of_ours_runs_as_root():
    assert OWN_IMAGE
    for name in OWN_IMAGE:
        assert str(SERVICES[name].get("user", "0")) not in ("0", "root"), name
    assert "USER 10001" in (ROOT / "Dockerfile").read_text()


def test_every_kafka_client_has_its_own_principal_and_nothing_runs_in_local_mode():
    principals = {name: environment(name).get(f"{prefix}_KAFKA_USERNAME") for name, prefix in [
        ("dispute-api", "DISPUTE"), ("dispute-relay", "DISPUTE"), ("notification", "NOTIFICATION"),
        ("refund", "REFUND")]}
    assert principals == {"dispute-api": "dispute", "dispute-relay": "dispute-relay",
                          "notification": "notification", "refund": "refund"}
    assert all(environment(name).get("PLATFORM_LOCAL_MODE", "false") == "false" for name in SERVICES)


def test_the_http_services_are_healthy_only_when_ready():
    probes = {name: " ".join(SERVICES[name]["healthcheck"]["test"]) for name in OWN_IMAGE
              if "urlopen" in str(SERVICES[name].get("healthcheck", {}).get("test"))
              and name != "dispute-relay"}  # no HTTP API: probed on its metrics (test_compose_health.py)
    assert len(probes) >= 3, probes
    assert all(re.search(r"urlopen\('http://127\.0\.0\.1:\d+/readyz'\)", probe) for probe in probes.values()), probes
