"""The dispute center in headless Chromium (Debian's chromium + chromedriver, via Selenium),
through the pages alone, against the whole platform as separate processes on the real Kafka
and PostgreSQL (tests/e2e/conftest.py), signed in on the local sign-in page:

- DOMAIN.md scenario 1: the buyer opens NOT_AS_DESCRIBED with two photos, the seller offers
  a partial refund of 30.00, the buyer accepts, the refund is paid (by the refund service and
  the payment simulator), both leave feedback, the seller replies; the seller's record shows it;
- an escalated dispute: the operator requests evidence, the buyer uploads it, the operator's
  internal note stays with the platform, a decision over the refundable amount is refused in
  words, and the right one resolves it.

Screenshots of the main pages go to $TEST_ARTIFACTS (default .run/artifacts/pages).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import start_system, stop_system

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,1000"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / ".run" / "artifacts")) / "pages"


@pytest.fixture(scope="module")
def platform(postgres, kafka, tmp_path_factory):
    """The platform in local mode (the sign-in page mints tokens), escalation open at once."""
    running = start_system(postgres, kafka, tmp_path_factory.mktemp("pages"), extra_env={
        "PLATFORM_LOCAL_MODE": "true", "DISPUTE_ESCALATION_OPENS_AFTER": "PT0S"})
    yield running
    stop_system(running)


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


class Pages:
    """What a person does on the pages: sign in, follow links, fill forms, read text."""

    def __init__(self, driver, base: str, tmp_path: Path):
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver, self.base, self.tmp = driver, base, tmp_path
        self.wait = WebDriverWait(driver, 30)

    def by(self, xpath: str):
        from selenium.webdriver.common.by import By
        return self.wait.until(lambda d: d.find_element(By.XPATH, xpath))

    def sign_in(self, role: str) -> None:
        self.driver.get(self.base + "/")
        self.driver.execute_script("sessionStorage.clear(); location.hash = '#/sign-in';")
        self.driver.refresh()
        self.by(f"//button[@data-role='{role}']").click()
        self.by("//button[text()='Sign out']")

    def go(self, hash_: str) -> None:
        self.driver.get(f"{self.base}/{hash_}")

    def text(self) -> str:
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.TAG_NAME, "main").text

    def fact(self, name: str) -> str:
        """The value beside `name` in the page's facts (a dt/dd list)."""
        from selenium.webdriver.common.by import By
        found = self.driver.find_elements(By.XPATH, f"//dt[normalize-space()=\"{name}\"]/following-sibling::dd[1]")
        return found[0].text if found else ""

    def until_fact(self, name: str, wanted: str, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while self.fact(name) != wanted:
            if time.monotonic() > deadline:
                pytest.fail(f"{name} never became {wanted!r} (it is {self.fact(name)!r}):\n{self.text()}")
            self.driver.refresh()
            time.sleep(0.5)

    def until_text(self, wanted: str, reload: bool = False, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.text():
            if time.monotonic() > deadline:
                pytest.fail(f"{wanted!r} never showed; the page says:\n{self.text()}")
            if reload:
                self.driver.refresh()
            time.sleep(0.5)

    def form(self, legend: str):
        return self.by(f"//form[.//legend[starts-with(normalize-space(), '{legend}')]]")

    def fill(self, form, **values) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select
        for name, value in values.items():
            field = form.find_element(By.NAME, name)
            if field.tag_name == "select":
                Select(field).select_by_value(value)
            elif field.get_attribute("type") == "checkbox":
                if bool(value) != field.is_selected():
                    field.click()
            else:
                field.clear()
                field.send_keys(value)

    def submit(self, form) -> None:
        from selenium.webdriver.common.by import By
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def click(self, text: str) -> None:
        self.by(f"//*[self::button or self::a][normalize-space()='{text}']").click()

    def photo(self, name: str) -> str:
        path = self.tmp / name
        path.write_bytes(PNG)
        return str(path)

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(ARTIFACTS / name))
        assert (ARTIFACTS / name).read_bytes()[:4] == b"\x89PNG"


def open_dispute_on_pages(pages: Pages, order_id: str, reason: str, photos=()) -> str:
    pages.sign_in("buyer")
    pages.go("#/orders")
    pages.until_text(order_id, reload=True)
    pages.by(f"//tr[td[text()='{order_id}']]//a[text()='Open a dispute']").click()
    form = pages.form("Open a dispute")
    pages.fill(form, reason=reason, request="FULL_REFUND", description="the colour is wrong")
    if photos:
        from selenium.webdriver.common.by import By
        form.find_element(By.NAME, "photos").send_keys("\n".join(pages.photo(p) for p in photos))
        pages.wait.until(lambda _: len(form.find_elements(By.CSS_SELECTOR, ".previews img")) == len(photos))
        pages.screenshot("buyer-opening.png")
    pages.submit(form)
    pages.until_text(f"Dispute about order {order_id}, item I-1")
    return pages.driver.current_url.split("#")[1]


def test_scenario_1_partial_refund_agreed_through_the_pages(platform, browser, tmp_path):
    asyncio.run(platform.publish_order("O-PAGES-1"))
    pages = Pages(browser, platform.url["dispute"], tmp_path)
    dispute = open_dispute_on_pages(pages, "O-PAGES-1", "NOT_AS_DESCRIBED", photos=("box.png", "item.png"))
    pages.until_text("box.png"), pages.until_text("item.png")
    pages.screenshot("buyer-dispute.png")

    pages.sign_in("seller")
    pages.go("#/disputes")
    pages.until_text("Waiting for you", reload=True)
    pages.screenshot("seller-disputes.png")
    pages.click("Order O-PAGES-1, item I-1")
    offer = pages.form("Make an offer")
    pages.fill(offer, type="PARTIAL_REFUND", amount="30.00", note="sorry about the colour")
    pages.submit(offer)
    pages.until_text("Partial refund 30.00 USD from the seller, round 1: open")

    pages.sign_in("buyer")
    pages.go("#" + dispute)
    pages.click("Accept this offer")
    pages.until_text("resolved")
    pages.until_fact("Refunded", "30.00 USD")  # paid at the simulator, told back over Kafka
    assert pages.fact("Still refundable") == "70.00 USD"
    feedback = pages.form("Leave feedback")
    pages.fill(feedback, rating="4", comment="fair in the end")
    pages.submit(feedback)
    pages.until_text("The buyer: 4 out of 5")

    pages.sign_in("seller")
    pages.go("#" + dispute)
    pages.until_text("fair in the end")
    reply = pages.form("Reply to this feedback")
    pages.fill(reply, text="thank you for your patience")
    pages.submit(reply)
    pages.until_text("Reply: thank you for your patience")
    mine = pages.form("Leave feedback")
    pages.fill(mine, rating="5")
    pages.submit(mine)
    pages.until_text("The seller: 5 out of 5")
    pages.screenshot("seller-dispute.png")
    assert "Reply to this feedback" not in pages.text()  # once

    pages.click("My record")
    pages.until_fact("Buyers' rating", "4 out of 5 (1)")
    assert "B-1" not in pages.text() and "fair in the end" not in pages.text()
    pages.screenshot("seller-record.png")


def test_an_escalated_dispute_is_decided_by_an_operator_after_an_evidence_request(platform, browser, tmp_path):
    asyncio.run(platform.publish_order("O-PAGES-2"))
    pages = Pages(browser, platform.url["dispute"], tmp_path)
    dispute = open_dispute_on_pages(pages, "O-PAGES-2", "DAMAGED")
    escalate = pages.form("Ask the platform to decide")
    pages.fill(escalate, note="the seller ignores me")
    pages.submit(escalate)
    pages.until_text("under review")

    pages.sign_in("operator")
    pages.go("#/desk")
    filters = pages.form("Filters")
    pages.fill(filters, status="UNDER_REVIEW", reason="DAMAGED")
    pages.submit(filters)
    pages.until_text("O-PAGES-2 / I-1", reload=False)
    pages.screenshot("operator-queue.png")
    pages.click("O-PAGES-2 / I-1")
    pages.until_text("Dispute record of seller S-1")
    assert "Order O-PAGES-2" in pages.text() and pages.fact("Order total") == "100.00 USD"
    request = pages.form("Request evidence")
    pages.fill(request, from_party="buyer", note="a photo of the damage, please")
    pages.submit(request)
    pages.until_text("asks the buyer for evidence")
    note = pages.form("Write")
    pages.fill(note, text="internal: seller has three similar cases", internal=True)
    pages.submit(note)
    pages.until_text("(internal note)")

    pages.sign_in("buyer")
    pages.go("#" + dispute)
    pages.until_text("asks the buyer for evidence")
    assert "seller has three similar cases" not in pages.text()
    upload = pages.form("Add evidence")
    from selenium.webdriver.common.by import By
    upload.find_element(By.NAME, "file").send_keys(pages.photo("damage.png"))
    pages.fill(upload, description="the cracked corner")
    pages.submit(upload)
    pages.until_text("the cracked corner")

    pages.sign_in("operator")
    pages.go("#" + dispute)
    decide = pages.form("Decide")
    pages.fill(decide, outcome="BUYER_FAVOUR", refund_amount="500.00", note="the photo shows it")
    pages.submit(decide)
    pages.until_text("more than can still be refunded")  # the API's refusal, in words
    decide = pages.form("Decide")
    pages.fill(decide, refund_amount="100.00")
    pages.submit(decide)
    pages.until_text("buyer favour (platform decision), refund 100.00 USD")
    pages.screenshot("operator-dispute.png")
