"""The payment-provider simulator behaves like a big provider's refund API."""

import pytest
from fastapi.testclient import TestClient

from standins.payment_provider.app import create_app
from standins.payment_provider.settings import SimulatorSettings

BODY = {"amount": "30.00", "currency": "USD", "order_reference": "O-1",
        "metadata": {"dispute_id": "d-1"}}


@pytest.fixture
def provider(tmp_path):
    def start(**faults) -> TestClient:
        settings = SimulatorSettings(database_url=f"sqlite:///{tmp_path}/paysim.sqlite", **faults)
        return TestClient(create_app(settings))
    return start


def refund(client: TestClient, key: str = "k-1", body: dict = BODY):
    return client.post("/refunds", json=body, headers={"Idempotency-Key": key})


def test_a_refund_is_created_and_succeeds(provider):
    response = refund(provider())
    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("status", "amount", "currency", "order_reference")} == {
        "status": "succeeded", "amount": "30.00", "currency": "USD", "order_reference": "O-1"}


def test_a_replay_with_the_same_key_and_body_returns_the_first_refund(provider):
    client = provider()
    first, again = refund(client), refund(client)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"


def test_a_replay_creates_no_second_refund(provider):
    client = provider()
    refund(client), refund(client)
    assert len(client.get("/refunds").json()["data"]) == 1


def test_the_same_key_with_another_body_is_refused(provider):
    client = provider()
    refund(client)
    response = refund(client, body={**BODY, "amount": "31.00"})
    assert (response.status_code, response.json()["code"]) == (
        422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD")


def test_an_equal_amount_written_differently_is_the_same_body(provider):
    client = provider()
    first = refund(client)
    assert refund(client, body={**BODY, "amount": "30.0"}).json()["id"] == first.json()["id"]


def test_a_refund_without_an_idempotency_key_is_refused(provider):
    response = provider().post("/refunds", json=BODY)
    assert (response.status_code, response.json()["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")


def test_a_refund_of_nothing_is_refused(provider):
    assert refund(provider(), body={**BODY, "amount": "0"}).status_code == 422


def test_different_keys_make_different_refunds(provider):
    client = provider()
    assert refund(client, "k-1").json()["id"] != refund(client, "k-2").json()["id"]


def test_refunds_can_be_listed_by_order_reference(provider):
    client = provider()
    refund(client, "k-1"), refund(client, "k-2", {**BODY, "order_reference": "O-2"})
    listed = client.get("/refunds", params={"order_reference": "O-2"}).json()["data"]
    assert [r["order_reference"] for r in listed] == ["O-2"]


def test_a_refund_can_be_read_by_its_id(provider):
    client = provider()
    created = refund(client).json()
    assert client.get(f"/refunds/{created['id']}").json() == created


def test_an_unknown_refund_id_is_not_found(provider):
    assert provider().get("/refunds/re_nope").status_code == 404


def test_the_first_n_requests_of_a_key_fail_when_so_configured(provider):
    client = provider(fail_first_n=2)
    assert [refund(client).status_code for _ in range(3)] == [500, 500, 201]


def test_a_failed_request_stores_no_refund(provider):
    client = provider(fail_first_n=1)
    refund(client)
    assert client.get("/refunds").json()["data"] == []


def test_a_failure_rate_of_one_fails_every_request(provider):
    assert refund(provider(failure_rate=1.0)).status_code == 500


def test_a_slow_answer_still_records_the_refund_once(provider):
    client = provider(timeout_first_n=1, timeout_seconds=0)
    first, again = refund(client), refund(client)
    assert first.json()["id"] == again.json()["id"]


def test_faults_can_be_changed_while_running(provider):
    client = provider()
    client.post("/admin/faults", json={"fail_first_n": 1})
    assert [refund(client).status_code for _ in range(2)] == [500, 201]


def test_the_ledger_on_sqlite_is_not_flushed_to_disk_at_every_commit(tmp_path):
    """WAL with synchronous=NORMAL: a refund's commit does not wait for the disk (the stand-in
    must not add a provider latency of its own under concurrent refunds)."""
    from sqlalchemy import text

    from standins.payment_provider.app import ledger_engine

    engine = ledger_engine(f"sqlite:///{tmp_path}/ledger.sqlite")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL (FULL is 2)
