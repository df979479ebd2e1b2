"""HTTP commands through the command writer: a failed batch is a 503 that is safe to retry
with the same Idempotency-Key, and a key is busy while its batch commits."""

import threading

from eventsourcing.persistence import OperationalError

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER

KEY = {"Idempotency-Key": "batch-key-1"}
MESSAGE = {"text": "is anyone there?"}


def test_a_failed_batch_is_a_503_with_retry_after_and_a_retry_records_the_command_once(
        api_with_dispute_awaiting_seller, monkeypatch):
    api = api_with_dispute_awaiting_seller

    def restarting(*_args, **_kwargs):
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(api.app.state.disputes.recorder, "insert_events", restarting)
    failed = api.post("/messages", json=MESSAGE, headers=KEY, who=BUYER)
    assert (failed.status_code, failed.json()["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert failed.headers["retry-after"]
    monkeypatch.undo()
    first = api.ok(api.post("/messages", json=MESSAGE, headers=KEY, who=BUYER), 201)
    again = api.post("/messages", json=MESSAGE, headers=KEY, who=BUYER)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first
    assert [m["text"] for m in api.view()["messages"]] == [MESSAGE["text"]]


def test_a_key_is_busy_while_its_batch_commits_and_is_answered_after(
        api_with_dispute_awaiting_seller, monkeypatch):
    api = api_with_dispute_awaiting_seller
    entered, release = threading.Event(), threading.Event()
    insert = api.app.state.disputes.recorder.insert_events

    def held(stored_events, **kwargs):
        entered.set()
        release.wait(30)
        return insert(stored_events, **kwargs)

    monkeypatch.setattr(api.app.state.disputes.recorder, "insert_events", held)
    answers: list = []
    first = threading.Thread(target=lambda: answers.append(
        api.post("/messages", json=MESSAGE, headers=KEY, who=BUYER)))
    first.start()
    assert entered.wait(30)
    busy = api.post("/messages", json=MESSAGE, headers=KEY, who=BUYER)
    assert (busy.status_code, busy.json()["code"]) == (409, "CONCURRENCY_CONFLICT")
    assert answers == []
    release.set()
    first.join(30)
    assert answers[0].status_code == 201
