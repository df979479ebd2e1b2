"""Idempotency-Key on POSTs: a retry gets the first answer and records nothing new."""

from uuid import UUID

import pytest

from sqlalchemy import update

from services.dispute.adapters.idempotency_store import idempotency_keys
from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPENING, PNG, SELLER, Clock, running_api
from tests.support.orders import order_placed

KEY = {"Idempotency-Key": "retry-me-7f3a"}
MESSAGE = {"text": "where is my refund?"}


def problem(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_a_replay_returns_the_first_answer_and_records_nothing(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    first = api.post("/messages", json=MESSAGE, headers=KEY)
    again = api.post("/messages", json=MESSAGE, headers=KEY)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert (again.headers["location"], again.headers["etag"]) == (first.headers["location"], first.headers["etag"])
    assert again.headers["idempotent-replayed"] == "true"
    assert api.view()["version"] == first.json()["dispute"]["version"]


def test_opening_twice_with_one_key_replays_the_created_dispute(api):
    first = api.post("/v1/disputes", json=OPENING, headers=KEY)
    again = api.post("/v1/disputes", json=OPENING, headers=KEY)
    assert (again.status_code, again.json()["id"], again.json()["version"]) == (201, first.json()["id"], 1)


def test_the_same_key_with_another_body_is_refused(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json=MESSAGE, headers=KEY), 201)
    response = api.post("/messages", json={"text": "something else"}, headers=KEY)
    assert problem(response) == (422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD")


def test_the_same_key_on_another_route_is_refused(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json=MESSAGE, headers=KEY), 201)
    response = api.post("/withdraw", json={}, headers=KEY)
    assert problem(response) == (422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD")


def test_keys_belong_to_one_principal(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    mine = api.ok(api.post("/messages", json=MESSAGE, headers=KEY, who=BUYER), 201)
    theirs = api.ok(api.post("/messages", json=MESSAGE, headers=KEY, who=SELLER), 201)
    assert mine["message"]["message_id"] != theirs["message"]["message_id"]


def test_a_replay_after_a_restart_returns_the_first_answer(tmp_path):
    with running_api(tmp_path, Clock(), order_placed()) as api:
        first = api.post("/v1/disputes", json=OPENING, headers=KEY)
    with running_api(tmp_path, Clock()) as restarted:
        again = restarted.post("/v1/disputes", json=OPENING, headers=KEY)
    assert (again.status_code, again.json()) == (201, first.json())


def test_a_refusal_is_not_kept_so_a_retry_runs_again(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    offer = {"type": "PARTIAL_REFUND", "amount": "80.00"}
    assert problem(api.post("/offers", json=offer, headers=KEY, who=BUYER)) == (409, "NOT_YOUR_TURN")
    api.offer(who=SELLER)
    assert api.post("/offers", json=offer, headers=KEY, who=BUYER).status_code == 201


def test_a_retry_while_the_first_request_is_running_is_a_conflict(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json=MESSAGE, headers=KEY), 201)
    with api.app.state.idempotency.engine.begin() as conn:
        conn.execute(update(idempotency_keys).values(status_code=None))
    assert problem(api.post("/messages", json=MESSAGE, headers=KEY)) == (409, "CONCURRENCY_CONFLICT")


def test_a_claim_abandoned_by_a_crashed_request_is_taken_over_after_its_lease(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json=MESSAGE, headers=KEY), 201)
    with api.app.state.idempotency.engine.begin() as conn:
        conn.execute(update(idempotency_keys).values(status_code=None))
    api.clock.advance(seconds=api.app.state.idempotency.lease.total_seconds() + 1)
    assert api.post("/messages", json=MESSAGE, headers=KEY).status_code == 201


def test_a_key_is_forgotten_after_its_retention(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json=MESSAGE, headers=KEY), 201)
    api.clock.advance(hours=24, seconds=1)
    assert api.post("/messages", json={"text": "new"}, headers=KEY).status_code == 201


def test_a_key_is_kept_for_twenty_four_hours(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    first = api.ok(api.post("/messages", json=MESSAGE, headers=KEY), 201)
    api.clock.advance(hours=23, minutes=59)
    assert api.post("/messages", json=MESSAGE, headers=KEY).json() == first


def test_a_key_longer_than_255_characters_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json=MESSAGE, headers={"Idempotency-Key": "k" * 256})
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_a_key_of_255_characters_is_accepted(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/messages", json=MESSAGE, headers={"Idempotency-Key": "k" * 255})
    assert response.status_code == 201


def test_an_upload_replay_returns_the_first_evidence(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    first = api.ok(api.upload(who=BUYER, headers=KEY), 201)
    again = api.ok(api.upload(who=BUYER, headers=KEY), 201)
    assert again == first and len(api.view()["evidence"]) == 1


def test_an_upload_of_another_file_under_the_same_key_is_refused(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.upload(who=BUYER, headers=KEY), 201)
    response = api.upload(who=BUYER, headers=KEY, content=PNG + b"changed")
    assert problem(response) == (422, "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD")


def test_the_key_becomes_the_causation_id_of_the_events(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json=MESSAGE, who=BUYER,
                    headers={**KEY, "X-Correlation-ID": "corr-42"}), 201)
    disputes = api.app.state.disputes
    last = list(disputes.recorder.select_events(UUID(api.dispute_id)))[-1]
    meta = disputes.mapper.to_domain_event_with_meta(last)[1]
    assert (meta["correlation_id"], meta["causation_id"]) == ("corr-42", KEY["Idempotency-Key"])


def test_keys_past_their_retention_are_purged_and_younger_ones_kept(api_with_dispute_awaiting_seller, clock):
    api = api_with_dispute_awaiting_seller
    api.post("/messages", json=MESSAGE, headers=KEY)
    keys = api.client.app.state.idempotency
    clock.advance(hours=23)
    assert keys.purge_expired(clock()) == 0
    clock.advance(hours=2)
    assert keys.purge_expired(clock()) == 1  # the message's key


@pytest.mark.parametrize("given", ["x" * 129, "has spaces", "new\\nline"])
def test_a_correlation_id_too_long_or_not_a_plain_token_is_replaced(api_with_dispute_awaiting_seller, given):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/messages", json=MESSAGE, who=BUYER, headers={"X-Correlation-ID": given}), 201)
    disputes = api.app.state.disputes
    last = list(disputes.recorder.select_events(UUID(api.dispute_id)))[-1]
    replaced = disputes.mapper.to_domain_event_with_meta(last)[1]["correlation_id"]
    assert replaced != given and UUID(replaced)
