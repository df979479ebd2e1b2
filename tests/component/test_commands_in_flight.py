"""An API process handles at most DISPUTE_MAX_COMMANDS_IN_FLIGHT commands at once: one more is
answered 503 with Retry-After at once (nothing done, a retry with the same key is safe), so an
overload cannot grow the process's memory and every answer's wait without bound."""

import asyncio
import threading

import pytest

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPENING, running_api
from tests.support.orders import order_placed


@pytest.fixture
def bounded_api(memory_folder, clock, api_template):
    with running_api(memory_folder, clock, order_placed(), template=api_template,
                     max_commands_in_flight=1) as api:
        api.open()
        yield api


class HeldWriter:
    """The writer of the app, with each command held until `release` (set from the test)."""

    def __init__(self, writer):
        self.writer, self.entered, self.release = writer, threading.Event(), threading.Event()

    async def submit(self, submission):
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return await self.writer.submit(submission)

    def __getattr__(self, name):
        return getattr(self.writer, name)


def test_a_command_beyond_the_bound_is_answered_503_at_once_and_its_retry_succeeds(bounded_api):
    api = bounded_api
    state = api.client.app.state
    held = HeldWriter(state.writer)
    state.writer = held
    first: dict = {}
    in_progress = threading.Thread(target=lambda: first.update(response=api.post(
        "/messages", json={"text": "first"}, headers={"Idempotency-Key": "k-first"})))
    in_progress.start()
    try:
        assert held.entered.wait(10)
        refused = api.post("/messages", json={"text": "second"}, headers={"Idempotency-Key": "k-second"})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "SERVICE_UNAVAILABLE"
    finally:
        held.release.set()
        in_progress.join(10)
    assert first["response"].status_code == 201
    again = api.post("/messages", json={"text": "second"}, headers={"Idempotency-Key": "k-second"})
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    texts = [m["text"] for m in api.view(who=BUYER)["messages"]]
    assert texts.count("first") == 1 and texts.count("second") == 1


def test_every_command_leaves_the_count_whatever_its_answer(bounded_api):
    api = bounded_api
    answers = [api.post("/messages", json={"text": "ok"}).status_code,
               api.post("/messages", json={"text": ""}).status_code,  # FastAPI's validation
               api.client.post(api.url("/messages"), json={"text": "x"}).status_code]  # no token
    assert answers == [201, 422, 401]
    assert api.client.app.state.commands_in_flight.count == 0
    assert api.post("/messages", json={"text": "still open"}).status_code == 201


def test_reads_are_not_bounded(bounded_api):
    api = bounded_api
    api.client.app.state.commands_in_flight.count = 1  # one command in progress
    assert api.get("", who=BUYER).status_code == 200


def test_an_opening_beyond_the_bound_is_answered_503_too(bounded_api):
    api = bounded_api
    api.client.app.state.commands_in_flight.count = 1  # one command in progress
    refused = api.post("/v1/disputes", json=OPENING)
    assert (refused.status_code, refused.json()["code"], refused.headers["retry-after"]) == (
        503, "SERVICE_UNAVAILABLE", "1")
