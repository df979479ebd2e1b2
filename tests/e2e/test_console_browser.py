"""The operator console in headless Chromium (Debian's chromium + chromedriver, via Selenium):
the page loads, lists a dispute, opens its timeline; a screenshot is kept."""

import os
import shutil
import socket
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import uvicorn

from services.dispute.domain import Actor, Role
from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET, bearer

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,900"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dispute_service(tmp_path):
    """The dispute API (projections running) on SQLite, served by uvicorn on a free port,
    with one dispute: opened by B-1, then a 30.00 USD partial-refund offer from the seller."""
    settings = DisputeSettings(database_url=f"sqlite:///{tmp_path}/d.sqlite", jwt_secret=SECRET)
    app = create_app(settings, clock=lambda: NOW, run_consumers=False, run_workers=True)
    app.state.orders.apply(order_placed())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.config.port}"
    _wait_until_up(base)
    opened = httpx.post(f"{base}/v1/disputes?wait=true", headers=bearer("buyer", "B-1"), json={
        "order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND"}).json()
    disputes, at = app.state.disputes, NOW + timedelta(days=1)
    disputes.execute(UUID(opened["id"]), at, lambda d: d.make_offer(
        offer_id="OF-1", offer_type="PARTIAL_REFUND", amount=Decimal("30.00"),
        actor=Actor(Role.SELLER, "S-1"), at=at, policy=disputes.policy))
    yield base, opened["id"]
    server.should_exit = True
    thread.join(10)


def _wait_until_up(base: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("the dispute service did not start")


@pytest.fixture
def browser(tmp_path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(f"browser test needs Debian's chromium and chromium-driver ({', '.join(missing)} "
                    f"missing): apt-get install -y chromium chromium-driver", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_an_operator_lists_a_dispute_and_opens_its_timeline(dispute_service, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    base, dispute_id = dispute_service
    wait = WebDriverWait(browser, 15)
    browser.get(f"{base}/console")
    assert browser.title == "Disputes: operator console"
    browser.find_element(By.ID, "token").send_keys(bearer("operator", "OP-1")["Authorization"].split()[1])
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    row = wait.until(shown.element_to_be_clickable((By.CSS_SELECTOR, f"#queue tr[data-id='{dispute_id}']")))
    assert "O-1 / I-1" in row.text and "AWAITING_BUYER_RESPONSE" in row.text
    row.click()
    wait.until(lambda _: len(browser.find_elements(By.CSS_SELECTOR, "#timeline li")) == 3)
    timeline = browser.find_element(By.ID, "timeline").text
    assert "Seller offered a partial refund of 30.00 USD; the buyer has until 16 Mar 12:00 UTC" in timeline
    assert "BUYER_RESPONSE" in browser.find_element(By.ID, "deadlines").text
    screenshot = tmp_path / "console.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.read_bytes()[:4] == b"\x89PNG"
    _keep(screenshot)


def _keep(screenshot: Path) -> None:
    """Also into $TEST_ARTIFACTS (default .run/artifacts), for a human to look at."""
    folder = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / ".run" / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, folder / "console.png")
