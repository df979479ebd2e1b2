"""The dispute API in-process for the test_api_* modules: an SQLite store in tmp_path, orders
fed straight into the book, an advanceable clock, and fixtures named by the dispute's state.

(No tests here; the fixtures are imported by the test modules.)
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.dispute.entrypoints.serve import create_app
from services.dispute.settings import DisputeSettings
from tests.support.clock import Clock
from tests.support.orders import NOW, order_placed
from tests.support.tokens import SECRET, bearer

BUYER, SELLER = ("buyer", "B-1"), ("seller", "S-1")
OPERATOR, SERVICE = ("operator", "OP-1"), ("service", "refund-service")
OTHER_BUYER, OTHER_SELLER = ("buyer", "B-2"), ("seller", "S-2")
OPENING = {"order_id": "O-1", "item_id": "I-1", "reason": "DAMAGED", "request": "FULL_REFUND",
           "description": "arrived broken"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64




class Api:
    """A TestClient that knows the dispute under test and speaks as a named principal."""

    def __init__(self, client: TestClient, clock: Clock, folder: Path):
        self.client, self.clock, self.app, self.folder = client, clock, client.app, folder
        self.dispute_id: str | None = None

    def url(self, path: str) -> str:
        return path if path.startswith("/v1") else f"/v1/disputes/{self.dispute_id}{path}"

    def post(self, path: str, json=None, who=BUYER, headers=None, **kwargs):
        return self.client.post(self.url(path), json=json, headers={**bearer(*who), **(headers or {})},
                                **kwargs)

    def get(self, path: str = "", who=OPERATOR, headers=None):
        return self.client.get(self.url(path), headers={**bearer(*who), **(headers or {})})

    def view(self, who=OPERATOR) -> dict:
        return self.get("", who=who).json()

    def ok(self, response, status: int = 200) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    def open(self, **changes) -> dict:
        opened = self.ok(self.post("/v1/disputes", json={**OPENING, **changes}), 201)
        self.dispute_id = opened["id"]
        return opened

    def offer(self, who=SELLER, **terms) -> str:
        body = terms or {"type": "PARTIAL_REFUND", "amount": "30.00"}
        return self.ok(self.post("/offers", json=body, who=who), 201)["offer"]["offer_id"]

    def counter(self, offer_id: str, who, amount: str) -> str:
        body = {"counter_offer": {"type": "PARTIAL_REFUND", "amount": amount}}
        return self.ok(self.post(f"/offers/{offer_id}/reject", json=body, who=who))["current_offer_id"]

    def upload(self, who=SELLER, content: bytes = PNG, name: str = "photo.png", headers=None,
               **fields):
        return self.post("/evidence", who=who, files={"file": (name, content, "image/png")},
                         data=fields, headers=headers)

    def evidence(self, who=SELLER) -> str:
        return self.ok(self.upload(who=who), 201)["evidence"]["evidence_id"]


def settings_for(tmp_path, **changes) -> DisputeSettings:
    return DisputeSettings(database_url=f"sqlite:///{tmp_path}/dispute.sqlite", jwt_secret=SECRET,
                           evidence_dir=str(tmp_path / "evidence"), run_workers=False, **changes)


@contextmanager
def running_api(tmp_path, clock: Clock, *orders, template=None, **settings):
    """The API on a database in tmp_path (a copy of `template`, whose tables exist already),
    with `settings` changed from the test defaults."""
    if template is not None:
        shutil.copy(template, tmp_path / "dispute.sqlite")
    app = create_app(settings_for(tmp_path, **settings), clock=clock, run_consumers=False)
    for order in orders:
        app.state.orders.apply(order)
    with TestClient(app) as client:
        yield Api(client, clock, tmp_path)


@pytest.fixture(scope="session")
def api_template(tmp_path_factory):
    """An empty database with every table, made once: creating tables is the slow part."""
    folder = tmp_path_factory.mktemp("api-template")
    with running_api(folder, Clock()):
        pass
    with sqlite3.connect(folder / "dispute.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / "dispute.sqlite"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def memory_folder(tmp_path):
    """A folder in memory (tmpfs) where there is one: SQLite syncs every commit to disk."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="dispute-api-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def api(memory_folder, clock, api_template):
    """Order O-1 (buyer B-1, seller S-1, item I-1, 100.00 USD), promised 3 days ago."""
    with running_api(memory_folder, clock, order_placed(), template=api_template) as api:
        yield api


@pytest.fixture
def api_with_dispute_awaiting_seller(api):
    api.open()
    return api


@pytest.fixture
def api_with_dispute_awaiting_buyer(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.offer_id = api.offer()
    return api


@pytest.fixture
def api_with_dispute_under_review(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.clock.advance(days=3)
    api.ok(api.post("/escalate", json={"note": "no answer"}, who=BUYER))
    return api


@pytest.fixture
def api_with_dispute_resolved_for_buyer(api_with_dispute_under_review):
    api = api_with_dispute_under_review
    api.ok(api.post("/decision", json={"outcome": "BUYER_FAVOUR", "refund_amount": "100.00"},
                    who=OPERATOR))
    return api


@pytest.fixture
def api_with_appealed_dispute(api_with_dispute_resolved_for_buyer):
    api = api_with_dispute_resolved_for_buyer
    evidence_id = api.evidence(who=SELLER)
    created = api.ok(api.post("/appeals", json={"evidence_ids": [evidence_id]}, who=SELLER), 201)
    api.appeal_id = created["appeal"]["appeal_id"]
    return api


@pytest.fixture
def api_with_dispute_awaiting_return(api):
    api.open(request="RETURN_AND_REFUND", request_amount="100.00")
    api.ok(api.post("/accept-claim", who=SELLER))
    return api


@pytest.fixture
def api_with_return_in_transit(api_with_dispute_awaiting_return):
    api = api_with_dispute_awaiting_return
    api.ok(api.post("/return-shipment", json={"carrier": "UPS", "tracking_number": "1Z9"}))
    return api


@pytest.fixture
def api_with_dispute_awaiting_replacement(api):
    api.open(request="REPLACEMENT")
    api.ok(api.post("/accept-claim", who=SELLER))
    return api
