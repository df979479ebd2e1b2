"""The dispute API keeps its OpenAPI document: schemathesis, with every check and every phase
(examples, coverage, fuzzing, and the stateful phase following the document's links from a
created dispute), finds no failure against the real service: the API process (uvicorn) on
the session's PostgreSQL and Kafka, with orders seeded as orders.events would bring them.

Three runs at once, a bounded number of examples each: as a buyer (with a second buyer as the
peer who must not see the first one's disputes), as an operator, and a stateful "cast" run in
which each command is spoken by the party whose part it is, so a dispute is followed past its
opening (offers, answers, escalation). How to run schemathesis by hand: tests/support/contract.py.
"""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from infra.ports import free_port
from services.common.database import sqlalchemy_engine
from services.dispute.adapters.order_book import OrderBook
from tests.support.contract import ContractRun
from tests.support.keys import DISPUTE_KEYS
from tests.support.orders import order_delivered, order_placed
from tests.support.processes import ServiceProcess
from tests.support.tokens import SECRET, bearer

pytestmark = pytest.mark.e2e
ORDERS = [f"O-C-{n}" for n in range(1, 161)]
PREOPENED = ORDERS[:4]  # opened before the runs: the dispute ids schemathesis draws from


@pytest.fixture
def dispute_api(postgres, kafka, tmp_path):
    port = free_port()
    database = postgres.create_database("contract_dispute")
    env = {"DISPUTE_DATABASE_URL": database, "DISPUTE_HTTP_PORT": str(port),
           "DISPUTE_JWT_SECRET": SECRET, **DISPUTE_KEYS, "DISPUTE_LOG_LEVEL": "WARNING",
           "DISPUTE_EVIDENCE_DIR": str(tmp_path / "evidence"),
           # schemathesis writes far faster than a person: the rate limit is not under test
           "DISPUTE_RATE_LIMIT_PER_SECOND": "100000", "DISPUTE_RATE_LIMIT_BURST": "100000",
           **kafka.env("DISPUTE", "dispute")}
    api = ServiceProcess("dispute", "services.dispute.main", ["serve"], env, tmp_path,
                         f"http://127.0.0.1:{port}/healthz").wait_healthy()
    try:
        yield f"http://127.0.0.1:{port}", database
    finally:
        api.stop()
        print(f"--- dispute API (last lines) ---\n{api.log_tail(20)}")


def seed_orders(database: str) -> None:
    """Paid and delivered orders of buyer B-1 and seller S-1, item I-1, 100.00 USD."""
    book, now = OrderBook(sqlalchemy_engine(database)), datetime.now(timezone.utc)
    for order_id in ORDERS:
        book.apply(order_placed(order_id=order_id, now=now))
        book.apply(order_delivered(order_id=order_id, now=now))


def open_disputes(base_url: str) -> tuple[str, ...]:
    opened = []
    for order_id in PREOPENED:
        response = httpx.post(f"{base_url}/v1/disputes", headers=bearer("buyer", "B-1"),
                              json={"order_id": order_id, "item_id": "I-1", "reason": "DAMAGED",
                                    "request": "FULL_REFUND"})
        assert response.status_code == 201, response.text
        opened.append(response.json()["id"])
    return tuple(opened)


@pytest.mark.timeout(900)
def test_schemathesis_finds_no_contract_failure(dispute_api, tmp_path):
    base_url, database = dispute_api
    seed_orders(database)
    disputes, orders = open_disputes(base_url), tuple(ORDERS[len(PREOPENED):])
    runs = [ContractRun(base_url, "buyer", ("B-1", "B-2"), orders, disputes, max_examples=3,
                        phases="examples,coverage,fuzzing,stateful", stateful_examples=10),
            ContractRun(base_url, "operator", ("OP-1",), orders, disputes, max_examples=3,
                        phases="examples,fuzzing,stateful", stateful_examples=10),
            ContractRun(base_url, "operator", ("OP-1",), orders, disputes, phases="stateful",
                        stateful_examples=20, cast=True)]
    started = [(run, run.start(tmp_path)) for run in runs]
    failed = []
    for run, process in started:
        process.wait(timeout=400)
        output = (tmp_path / f"schemathesis-{run.name}.log").read_text()
        print(f"--- schemathesis as {run.name} ---\n{output[-1500:]}")
        if process.returncode != 0:
            failed.append(f"as {run.name}:\n{output[-12000:]}")
    assert not failed, "\n\n".join(failed)
