"""Many clients on the same disputes at once, through HTTP, on a real PostgreSQL store.

Each race is run on several disputes at the same moment (the requests of a race released
together by a barrier). Whatever the interleaving: no answer is a server error, each loser is
told CONCURRENCY_CONFLICT or the domain error of the state the winner left, every
acknowledged (2xx) change is in the stored history, and the stored state is the winner's.
Only HTTP and the store are looked at, so the races hold however commands are written.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from services.common.database import sqlalchemy_engine
from services.dispute.application.deadline_worker import DeadlineWorker
from services.dispute.bootstrap import build_application
from services.dispute.entrypoints.serve import create_app
from services.dispute.projections.dispute_index import DisputeIndexProjection
from services.dispute.settings import DisputeSettings
from tests.support.clock import Clock
from tests.support.orders import order_placed
from tests.support.tokens import SECRET, bearer

pytestmark = pytest.mark.integration
RACES = 8  # disputes raced on at once, per kind of race
BUYER, SELLER = ("buyer", "B-1"), ("seller", "S-1")
OFFER = {"type": "PARTIAL_REFUND", "amount": "30.00"}


@pytest.fixture
def settings(pg_url, tmp_path) -> DisputeSettings:
    return DisputeSettings(database_url=pg_url, jwt_secret=SECRET, run_workers=False,
                           evidence_dir=str(tmp_path / "evidence"), rate_limit_burst=10_000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(settings, clock):
    app = create_app(settings, clock=clock, run_consumers=False)
    with TestClient(app) as client:
        yield Api(client, app)


@pytest.fixture
def store(settings):
    """The event store as another process sees it."""
    return build_application(settings)


class Api:
    def __init__(self, client: TestClient, app):
        self.client, self.app = client, app

    def post(self, path: str, who, json=None):
        return self.client.post(path, json=json or {},
                                headers={**bearer(*who), "Idempotency-Key": str(uuid4())})

    def ok(self, response, status: int = 200) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    def open(self, n: int) -> str:
        order_id = f"O-race-{uuid4().hex[:8]}-{n}"
        self.app.state.orders.apply(order_placed(order_id=order_id))
        body = {"order_id": order_id, "item_id": "I-1", "reason": "DAMAGED",
                "request": "FULL_REFUND", "description": "arrived broken"}
        return self.ok(self.post("/v1/disputes", BUYER, body), 201)["id"]

    def offer(self, dispute_id: str) -> str:
        return self.ok(self.post(f"/v1/disputes/{dispute_id}/offers", SELLER, OFFER), 201)["offer"]["offer_id"]

    def view(self, dispute_id: str) -> dict:
        return self.ok(self.client.get(f"/v1/disputes/{dispute_id}", headers=bearer("operator", "OP-1")))


def race(*attempts):
    """Runs every attempt of every race at once (each a function returning a response), on
    threads released together; the answers in the order given."""
    barrier = threading.Barrier(len(attempts))

    def released(attempt):
        barrier.wait()
        return attempt()

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(released, attempts))


def code(response) -> str | None:
    return None if response.status_code < 300 else response.json().get("code")


def stored(store, dispute_id: str) -> list[str]:
    """The names of the stored events of one dispute, in order."""
    return [e.topic.rsplit(".", 1)[-1] for e in store.recorder.select_events(UUID(dispute_id))]


def assert_losers_told(answers, losing_codes: set[str]) -> None:
    """At least one 2xx; every other answer a 409 with one of the expected codes (never 5xx)."""
    assert any(a.status_code < 300 for a in answers), [a.text for a in answers]
    losers = [a for a in answers if a.status_code >= 300]
    assert {(a.status_code, code(a)) for a in losers} <= {(409, c) for c in losing_codes}, \
        [(a.status_code, a.text) for a in losers]


def assert_one_winner(answers, losing_codes: set[str]) -> int:
    """Exactly one 2xx, the others told why; the winner's index."""
    assert_losers_told(answers, losing_codes)
    winners = [i for i, a in enumerate(answers) if a.status_code < 300]
    assert len(winners) == 1, [(a.status_code, a.text) for a in answers]
    return winners[0]


def test_accept_against_escalate_keeps_what_was_acknowledged_in_a_valid_order(api, store, clock):
    """Escalating first leaves the offer open (an offer may still be accepted under review);
    accepting first resolves, and the escalation is refused."""
    disputes = [api.open(n) for n in range(RACES)]
    offers = [api.offer(d) for d in disputes]
    clock.advance(days=4)  # escalation is open, the offer still stands
    answers = race(*(attempt for d, o in zip(disputes, offers) for attempt in (
        lambda d=d, o=o: api.post(f"/v1/disputes/{d}/offers/{o}/accept", BUYER),
        lambda d=d: api.post(f"/v1/disputes/{d}/escalate", SELLER))))
    for n, dispute_id in enumerate(disputes):
        accepted, escalated = answers[2 * n:2 * n + 2]
        assert_losers_told([accepted, escalated], {
            "CONCURRENCY_CONFLICT", "DISPUTE_ALREADY_RESOLVED", "DISPUTE_NOT_OPEN_FOR_NEGOTIATION",
            "INVALID_TRANSITION"})
        events, view = stored(store, dispute_id), api.view(dispute_id)
        assert ("OfferAccepted" in events) == (accepted.status_code == 200)
        assert ("Escalated" in events) == (escalated.status_code == 200)
        if "Escalated" in events and "OfferAccepted" in events:
            assert events.index("Escalated") < events.index("OfferAccepted")
        assert view["status"] == ("RESOLVED" if "OfferAccepted" in events else "UNDER_REVIEW")
        assert view["version"] == len(events)


def test_two_offers_at_once_make_one_current_offer(api, store):
    disputes = [api.open(n) for n in range(RACES)]
    answers = race(*(lambda d=d, a=amount: api.post(f"/v1/disputes/{d}/offers", SELLER,
                                                    {"type": "PARTIAL_REFUND", "amount": a})
                     for d in disputes for amount in ("30.00", "40.00")))
    for n, dispute_id in enumerate(disputes):
        pair = answers[2 * n:2 * n + 2]
        winner = assert_one_winner(pair, {"CONCURRENCY_CONFLICT", "NOT_YOUR_TURN"})
        view = api.view(dispute_id)
        assert view["current_offer_id"] == pair[winner].json()["offer"]["offer_id"]
        assert [Decimal(str(o["amount"])) for o in view["offers"]] == [Decimal(("30.00", "40.00")[winner])]
        assert stored(store, dispute_id).count("OfferMade") == 1


def test_a_deadline_firing_against_a_command_lets_only_one_of_them_count(api, store, settings, clock):
    """The seller answers a second before the deadline by the API's clock while the deadline
    worker (another process, its clock a second past the deadline) fires it."""
    disputes = [api.open(n) for n in range(RACES)]
    index = DisputeIndexProjection(store, sqlalchemy_engine(settings.database_url))
    index.create_tables()
    index.catch_up()
    due = clock.now + settings.policy.seller_response_window
    clock.now = due - timedelta(seconds=1)
    worker = DeadlineWorker(store, index.engine, lambda: due + timedelta(seconds=1))
    answers = race(worker.fire_due_once, *(lambda d=d: api.post(f"/v1/disputes/{d}/offers", SELLER, OFFER)
                                           for d in disputes))
    offers = answers[1:]
    assert all(a.status_code < 500 for a in offers), [a.text for a in offers]
    for dispute_id, offer in zip(disputes, offers):
        events, view = stored(store, dispute_id), api.view(dispute_id)
        if offer.status_code == 201:
            assert "DeadlineMissed" not in events and "OfferMade" in events
            assert view["status"] == "AWAITING_BUYER_RESPONSE"
        else:
            assert (offer.status_code, code(offer)) in {(409, "CONCURRENCY_CONFLICT"),
                                                        (409, "DISPUTE_NOT_OPEN_FOR_NEGOTIATION")}
            assert events.count("DeadlineMissed") == 1 and "OfferMade" not in events
            assert view["status"] == "RESOLVED" and view["resolution"]["resolved_by"] == "TIMEOUT_SELLER"
    assert answers[0] == sum(1 for offer in offers if offer.status_code != 201)


def test_two_operators_deciding_at_once_give_one_resolution(api, store, clock):
    disputes = [api.open(n) for n in range(RACES)]
    clock.advance(days=4)
    for dispute_id in disputes:
        api.ok(api.post(f"/v1/disputes/{dispute_id}/escalate", BUYER))
    decisions = ({"outcome": "BUYER_FAVOUR", "refund_amount": "100.00"}, {"outcome": "SELLER_FAVOUR"})
    answers = race(*(lambda d=d, who=who, body=body: api.post(f"/v1/disputes/{d}/decision", who, body)
                     for d in disputes
                     for who, body in zip((("operator", "OP-1"), ("operator", "OP-2")), decisions)))
    for n, dispute_id in enumerate(disputes):
        pair = answers[2 * n:2 * n + 2]
        winner = assert_one_winner(pair, {"CONCURRENCY_CONFLICT", "DISPUTE_ALREADY_RESOLVED",
                                          "INVALID_TRANSITION"})
        view = api.view(dispute_id)
        assert view["resolution"]["outcome"] == decisions[winner]["outcome"]
        assert stored(store, dispute_id).count("Resolved") == 1


def test_many_messages_at_once_lose_no_acknowledged_one(api, store):
    """No rule refuses any of them: each is acknowledged or told to retry, none is lost."""
    dispute_id = api.open(0)
    parties = [BUYER, SELLER, ("operator", "OP-1")]
    answers = race(*(lambda n=n: api.post(f"/v1/disputes/{dispute_id}/messages", parties[n % 3],
                                          {"text": f"message {n}"}) for n in range(24)))
    assert {(a.status_code, code(a)) for a in answers} <= {(201, None), (409, "CONCURRENCY_CONFLICT")}
    acknowledged = {a.json()["message"]["message_id"] for a in answers if a.status_code == 201}
    assert acknowledged and stored(store, dispute_id).count("MessagePosted") == len(acknowledged)
    view = store.get_dispute(UUID(dispute_id))
    assert {m.message_id for m in view.messages} == acknowledged
