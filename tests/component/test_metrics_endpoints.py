"""Every HTTP service serves Prometheus text on GET /metrics, to anyone and at any rate, and
counts its requests by route template (never the raw path), method and status."""

from __future__ import annotations

import smtplib

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from infra.ports import free_port
from standins.smtp_sink import SmtpSink
from tests.component.test_health import ALL, build, sqlite

DISPUTE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
# a route of each service (with a path parameter where it has one), asked without a token or
# for something that does not exist: (method, path, the route template)
ROUTES = {"dispute": ("GET", f"/v1/disputes/{DISPUTE}", "/v1/disputes/{dispute_id}"),
          "notification": ("POST", "/v1/notifications/N-404/read", "/v1/notifications/{notification_id}/read"),
          "refund": ("GET", "/readyz", "/readyz"),
          "simulator": ("GET", "/refunds/re_404", "/refunds/{refund_id}")}


def samples(text: str, name: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


@pytest.fixture(params=ALL)
def client(request, tmp_path):
    with TestClient(build(request.param, sqlite(tmp_path, request.param), tmp_path)) as running:
        running.service = request.param  # type: ignore[attr-defined]
        yield running


def test_metrics_are_served_as_prometheus_text_without_a_token(client):
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert samples(answer.text, "http_requests_total") == []  # /metrics itself is not counted


def test_requests_are_counted_by_route_template_method_and_status(client):
    method, path, template = ROUTES[client.service]
    status = client.request(method, path).status_code
    counted = samples(client.get("/metrics").text, "http_requests_total")
    assert [(s.labels["handler"], s.labels["method"], s.labels["status"], s.value) for s in counted] == [
        (template, method, str(status), 1.0)]
    assert samples(client.get("/metrics").text, "http_request_duration_seconds_count")[0].value == 1.0


def test_an_unknown_path_is_counted_as_none_not_as_itself(client):
    client.get(f"/no/such/{DISPUTE}")
    handlers = {s.labels["handler"] for s in samples(client.get("/metrics").text, "http_requests_total")}
    assert handlers == {"none"}


def test_metrics_are_never_rate_limited(client):
    answers = {client.get("/metrics").status_code for _ in range(100)}
    assert answers == {200}


def test_the_smtp_sink_counts_the_mails_it_accepts(tmp_path):
    sink = SmtpSink(tmp_path / "mail", port=free_port(), http_port=free_port()).start()
    try:
        with smtplib.SMTP("127.0.0.1", sink.smtp.port) as smtp:
            smtp.sendmail("a@example.invalid", ["b@example.invalid"], "Subject: hi\r\n\r\nbody")
        text = httpx.get(f"http://127.0.0.1:{sink.http.server_address[1]}/metrics").text
    finally:
        sink.stop()
    assert samples(text, "smtp_sink_mails_accepted_total")[0].value == 1.0


def test_a_path_redirected_for_its_trailing_slash_counts_under_its_route_not_as_itself(client):
    """The instrumentator's own lookup gave the raw path there: a series for every dispute id
    anybody sent, signed in or not."""
    method, path, template = ROUTES[client.service]
    client.request(method, path + "/", follow_redirects=False)
    handlers = {s.labels["handler"] for s in samples(client.get("/metrics").text, "http_requests_total")}
    assert handlers == {template}


def test_dispute_ids_with_a_trailing_slash_make_one_series():
    from tests.component.test_health import build, sqlite
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder, TestClient(
            build("dispute", sqlite(Path(folder), "dispute"), Path(folder))) as running:
        for n in range(3):
            running.post(f"/v1/disputes/3fa85f64-5717-4562-b3fc-2c963f66afa{n}/messages/", follow_redirects=False)
        counted = samples(running.get("/metrics").text, "http_requests_total")
    assert [(s.labels["handler"], s.value) for s in counted] == [("/v1/disputes/{dispute_id}/messages", 3.0)]
