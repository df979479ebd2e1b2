"""The image runs the platform from its wheel, not from a source tree: the wheel is built here,
installed into a fresh virtualenv outside the checkout, and used from a folder where the
checkout cannot be imported. The third-party packages come from the checkout's virtualenv on
PYTHONPATH (its `.pth` files, the editable install among them, are not read from there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from infra.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

RENDER = """
import json, services
from services.notification.notices import Parties, notices_for
from services.notification.template_files import TEMPLATE_DIR, load_templates
opened = {"order_id": "O-7", "item_id": "I-1", "buyer_id": "B-1", "seller_id": "S-1",
          "reason": "DAMAGED", "request": "FULL_REFUND", "request_amount": "100.00",
          "description": "cracked", "paid_amount": "100.00", "currency": "USD",
          "deadlines": {"SELLER_RESPONSE": "2026-12-03T14:00:00Z"},
          "escalation_allowed_from": "2026-12-01T14:00:00Z"}
notices = notices_for("DisputeOpened", opened, "D-1", Parties("B-1", "S-1"), templates=load_templates())
print(json.dumps({"services": services.__file__, "templates": str(TEMPLATE_DIR),
                  "notices": {n.recipient_role: n.subject for n in notices}}))
"""


def copy_of_the_sources(into: Path) -> Path:
    """The packages pyproject declares and pyproject itself: a build in the checkout would
    leave build/ and egg-info behind."""
    source = into / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    includes = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in {pattern.rstrip("*") for pattern in includes}:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return source


def build_wheel(tmp: Path) -> Path:
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(copy_of_the_sources(tmp))], check=True, capture_output=True)
    [wheel] = dist.glob("dispute_platform-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(the new virtualenv's python, the environment to run it in) with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(tmp)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPUTE_", "PYTHON"))}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]  # third-party packages only
    return python, env


def run_in(python: Path, env: dict[str, str], cwd: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_wheel_carries_the_templates_and_renders_a_notification_outside_the_checkout(installed, tmp_path):
    python, env = installed
    rendered = json.loads(run_in(python, env, tmp_path, RENDER))
    venv = python.parent.parent
    assert Path(rendered["services"]).is_relative_to(venv), rendered["services"]
    assert Path(rendered["templates"]).is_relative_to(venv)
    assert rendered["notices"]["seller"] == "A buyer opened a dispute on order O-7"
    assert set(rendered["notices"]) == {"buyer", "seller"}


def test_the_dispute_api_installed_from_the_wheel_serves_the_pages(installed, tmp_path):
    python, env = installed
    port = free_port()
    env = {**env, "PLATFORM_LOCAL_MODE": "true", "DISPUTE_HTTP_PORT": str(port),
           "DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/dispute.sqlite",
           "DISPUTE_EVIDENCE_DIR": str(tmp_path / "evidence"),
           "DISPUTE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}  # nobody there: the HTTP side serves regardless
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([str(python), "-m", "services.dispute.main", "serve"], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_alive(server, f"{url}/healthz", tmp_path / "serve.log")
        page, script = httpx.get(f"{url}/"), httpx.get(f"{url}/app/center.js")
        assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:300]
        assert page.headers["content-type"].startswith("text/html")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert script.text == (ROOT / "services/dispute/entrypoints/http/center/center.js").read_text()
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def test_the_installed_wheel_can_find_the_kafka_pom_and_has_disputectl(installed, tmp_path):
    python, env = installed
    pom = run_in(python, env, tmp_path, "import infra.kafka as k; print(k.POM_DIR / 'pom.xml')").strip()
    assert Path(pom).is_relative_to(python.parent.parent) and "kafka_2.13" in Path(pom).read_text()
    assert (python.parent / "disputectl").exists()


def wait_until_alive(server: subprocess.Popen, url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout}s:\n{log.read_text()[-3000:]}")
