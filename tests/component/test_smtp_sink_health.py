"""The SMTP sink answers /healthz while its HTTP side serves, and /readyz 200 only while its SMTP
listener greets and its folder takes files (compose's health check of the sink)."""

import shutil

import httpx
import pytest

from infra.ports import free_port
from standins.smtp_sink import SmtpSink


@pytest.fixture
def sink(tmp_path):
    sink = SmtpSink(tmp_path / "mail", port=free_port(), http_port=free_port()).start()
    yield sink
    try:
        sink.stop()
    except Exception:  # the test stopped its SMTP side already
        sink.http.shutdown()


def url(sink: SmtpSink, path: str) -> str:
    return f"http://127.0.0.1:{sink.http.server_address[1]}{path}"


def test_a_running_sink_is_alive_and_ready(sink):
    assert httpx.get(url(sink, "/healthz")).status_code == 200
    ready = httpx.get(url(sink, "/readyz"))
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def test_a_sink_whose_smtp_listener_is_gone_is_alive_but_not_ready(sink):
    sink.smtp.stop()
    assert httpx.get(url(sink, "/healthz")).status_code == 200
    ready = httpx.get(url(sink, "/readyz"))
    assert ready.status_code == 503 and ready.headers["content-type"] == "application/problem+json"
    assert (ready.json()["code"], ready.json()["missing"]) == ("NOT_READY", ["smtp"])


def test_a_sink_without_its_folder_is_not_ready(sink):
    shutil.rmtree(sink.folder)
    assert httpx.get(url(sink, "/readyz")).json()["missing"] == ["folder"]
