"""In both compose variants every long-running container has a health check that proves it
works (an HTTP part its /readyz, the relay its metrics, Kafka an authenticated request, the
database pg_isready), and every container waits for what it needs to be healthy (or, for the
one-shot provisioning, to have exited 0) before it starts."""

import re

import pytest

from tests.support.compose import BASE, CLUSTER, ROOT, environment, load, one_shots

VARIANTS = {"one node": load(BASE), "cluster": load(BASE, CLUSTER)}
PROBED_PATH = re.compile(r"urlopen\('http://127\.0\.0\.1:(\d+)(/\w+)'\)")


@pytest.fixture(params=list(VARIANTS))
def compose(request):
    return VARIANTS[request.param]


def probe(spec) -> str:
    return " ".join(spec["healthcheck"]["test"])


def test_every_long_running_container_has_a_health_check(compose):
    services = compose["services"]
    lasting = set(services) - one_shots(compose)
    assert lasting and all(services[name].get("healthcheck", {}).get("test") for name in lasting), \
        [name for name in lasting if not services[name].get("healthcheck")]


def test_every_container_waits_for_its_needs_to_be_healthy_or_done(compose):
    services, done = compose["services"], one_shots(compose)
    for name, spec in services.items():
        for need, how in (spec.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if need in done else "service_healthy"
            assert how == {"condition": expected}, (name, need, how)
            assert need in done or services[need].get("healthcheck"), (name, need)


def test_every_kafka_client_waits_for_the_brokers_and_the_provisioned_topics(compose):
    for name, spec in compose["services"].items():
        if any(key.endswith("_KAFKA_BOOTSTRAP") for key in environment(spec)):
            assert {"kafka", "kafka-setup"} <= set(spec["depends_on"]), name
    assert compose["services"]["notification"]["depends_on"]["smtp-sink"] == {"condition": "service_healthy"}
    assert compose["services"]["refund"]["depends_on"]["payment-simulator"] == {"condition": "service_healthy"}


def test_the_http_parts_and_the_stand_ins_are_probed_on_their_own_readiness(compose):
    ports = {"dispute-api": "8000", "notification": "8001", "refund": "8002", "payment-simulator": "8003",
             "smtp-sink": "8026", "dispute-relay": environment(compose["services"]["dispute-relay"])["DISPUTE_RELAY_METRICS_PORT"]}
    for name, port in ports.items():
        assert PROBED_PATH.search(probe(compose["services"][name])).groups() == \
            (port, "/metrics" if name == "dispute-relay" else "/readyz"), name
    assert "--http-port 8026" in compose["services"]["smtp-sink"]["command"]


def test_kafka_is_healthy_only_when_it_answers_an_authenticated_request(compose):
    script = (ROOT / "docker/kafka/start.sh").read_text()
    for name in [n for n in compose["services"] if re.fullmatch(r"kafka(-\d)?", n)]:
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[1].endswith("kafka-broker-api-versions.sh"), name
        assert test[test.index("--command-config") + 1] == "/var/lib/kafka/probe.properties"
    assert 'cat > "$DATA/probe.properties"' in script and "sasl.mechanism=SCRAM-SHA-512" in script
