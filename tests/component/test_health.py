"""Every HTTP service answers /healthz while it serves, and /readyz 200 only when its database
answers and (where it has consumers) Kafka is connected; else 503 NOT_READY naming what is
missing. The database is taken away by closing a TCP proxy in front of the real PostgreSQL."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from infra.ports import free_port
from services.dispute.entrypoints.serve import create_app as dispute_app
from services.dispute.settings import DisputeSettings
from services.notification.main import create_app as notification_app
from services.notification.settings import NotificationSettings
from services.refund.main import create_app as refund_app
from services.refund.settings import RefundSettings
from standins.payment_provider.app import create_app as simulator_app
from standins.payment_provider.settings import SimulatorSettings
from tests.support.tokens import SECRET

WITH_KAFKA = ["dispute", "notification", "refund"]
ALL = [*WITH_KAFKA, "simulator"]
UNREACHABLE_KAFKA = f"127.0.0.1:{free_port()}"


class Proxy:
    """127.0.0.1:<port> forwarded to `target`; `cut()` closes the listener and every link."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port, self.links = target, free_port(), []
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        for link in [self.listener, *self.links]:  # shutdown first: it wakes a blocked accept
            try:
                link.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            link.close()


def through(proxy: Proxy, url: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(netloc=f"{parsed.username or 'postgres'}@127.0.0.1:{proxy.port}").geturl()


def build(service: str, database_url: str, home, run_consumers: bool = False):
    """The service on `database_url`, its Kafka bootstrap a port nobody listens on."""
    bootstrap = UNREACHABLE_KAFKA
    if service == "dispute":
        return dispute_app(DisputeSettings(database_url=database_url, jwt_secret=SECRET,
                                           kafka_bootstrap=bootstrap, evidence_dir=str(home / "evidence")),
                           run_consumers=run_consumers, run_workers=False)
    if service == "notification":
        return notification_app(NotificationSettings(database_url=database_url, jwt_secret=SECRET,
                                                     kafka_bootstrap=bootstrap), run_consumers=run_consumers)
    if service == "refund":
        return refund_app(RefundSettings(database_url=database_url, kafka_bootstrap=bootstrap),
                          run_consumers=run_consumers)
    return simulator_app(SimulatorSettings(database_url=database_url))


def sqlite(tmp_path, service: str) -> str:
    return f"sqlite:///{tmp_path}/{service}.sqlite"


@pytest.mark.parametrize("service", ALL)
def test_healthz_answers_while_the_service_serves(service, tmp_path):
    with TestClient(build(service, sqlite(tmp_path, service), tmp_path)) as client:
        answer = client.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("service", WITH_KAFKA)
def test_readyz_names_kafka_when_the_consumers_do_not_run(service, tmp_path):
    with TestClient(build(service, sqlite(tmp_path, service), tmp_path)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert (answer.json()["code"], answer.json()["missing"]) == ("NOT_READY", ["kafka"])


@pytest.mark.parametrize("service", WITH_KAFKA)
def test_readyz_names_kafka_while_the_broker_cannot_be_reached(service, tmp_path):
    with TestClient(build(service, sqlite(tmp_path, service), tmp_path, run_consumers=True)) as client:
        answer = client.get("/readyz")
        health = client.get("/health").json()
    assert (answer.status_code, answer.json()["missing"]) == (503, ["kafka"])
    assert health == {"status": "ok", "kafka": "connecting"}


def test_the_simulator_is_ready_when_its_database_answers(tmp_path):
    with TestClient(build("simulator", sqlite(tmp_path, "simulator"), tmp_path)) as client:
        answer = client.get("/readyz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ready"})


@pytest.mark.parametrize("service", ALL)
def test_readyz_names_the_database_once_it_stops_answering(service, pg_url, tmp_path):
    proxy = Proxy((urlparse(pg_url).hostname, urlparse(pg_url).port))
    with TestClient(build(service, through(proxy, pg_url), tmp_path)) as client:
        before = client.get("/readyz").json().get("missing", [])
        proxy.cut()
        answer = client.get("/readyz")
        alive = client.get("/healthz").status_code
    assert "database" not in before
    assert (answer.status_code, answer.json()["code"]) == (503, "NOT_READY")
    assert "database" in answer.json()["missing"]
    assert alive == 200


def test_readyz_names_a_shard_whose_database_stops_answering(postgres, pg_url, tmp_path):
    shard = postgres.create_database(pg_url.rsplit("/", 1)[1] + "_s1")
    proxy = Proxy((urlparse(shard).hostname, urlparse(shard).port))
    settings = DisputeSettings(database_url=pg_url, shard_urls=f"{pg_url},{through(proxy, shard)}",
                               jwt_secret=SECRET, kafka_bootstrap=UNREACHABLE_KAFKA,
                               evidence_dir=str(tmp_path / "evidence"))
    with TestClient(dispute_app(settings, run_consumers=False, run_workers=False)) as client:
        before = client.get("/readyz").json()["missing"]
        proxy.cut()
        answer = client.get("/readyz")
    assert "shard_1" not in before and "shard_0" not in before
    assert answer.status_code == 503 and "shard_1" in answer.json()["missing"]
    assert "shard_0" not in answer.json()["missing"]
