"""Limits of the dispute API (issue 9): writes per principal, caps per dispute, a bounded view
and timeline, small idempotency records, no file left by a refused upload, authentication
before the body, and no parser handed an unbounded header."""

import asyncio
import json

import pytest
from sqlalchemy import func, select, update

from services.dispute.adapters.idempotency_store import idempotency_keys
from services.dispute.domain import DisputePolicy
from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import BUYER, OPERATOR, PNG, SELLER, running_api
from tests.support.asgi import call_raw
from tests.support.orders import order_placed
from tests.support.tokens import bearer

MB = 1024 * 1024
LONG = "x" * 4000


def problem(response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json"
    return response.status_code, response.json()["code"]


@pytest.fixture
def api_with(memory_folder, clock, api_template):
    """The API with some settings changed, a dispute open on order O-1."""
    running = []

    def start(**settings):
        context = running_api(memory_folder, clock, order_placed(), template=api_template,
                              **settings)
        api = context.__enter__()
        running.append(context)
        api.open()
        return api

    yield start
    for context in running:
        context.__exit__(None, None, None)


def say(api, text="hello", who=BUYER, **headers):
    return api.post("/messages", json={"text": text}, who=who, headers=headers)


# Rate limits ---------------------------------------------------------------------------

def test_writes_past_the_burst_are_refused_with_retry_after(api_with):
    api = api_with(rate_limit_burst=3, rate_limit_per_second=0.5)  # opening took one
    assert [say(api).status_code for _ in range(2)] == [201, 201]
    refused = say(api)
    assert problem(refused) == (429, "RATE_LIMITED")
    assert refused.headers["Retry-After"] == "2"
    assert len(api.view()["messages"]) == 2


def test_each_principal_has_its_own_budget_and_reads_are_not_limited(api_with):
    api = api_with(rate_limit_burst=1, rate_limit_per_second=0.01)
    assert say(api).status_code == 429
    assert say(api, who=SELLER).status_code == 201
    assert [api.get("", who=BUYER).status_code for _ in range(5)] == [200] * 5


def test_the_default_budget_lets_a_busy_party_through(api):
    api.open()
    assert {say(api).status_code for _ in range(50)} == {201}


# Caps ----------------------------------------------------------------------------------

def test_a_message_past_the_cap_is_refused_with_its_code(api_with):
    api = api_with(policy=DisputePolicy(max_messages=2))
    say(api), say(api, who=SELLER)
    refused = say(api)
    assert problem(refused) == (422, "TOO_MANY_MESSAGES")
    assert refused.json()["max"] == 2


def test_an_offer_past_the_cap_is_refused_with_its_code(api_with):
    api = api_with(policy=DisputePolicy(max_offers=1, max_offer_rounds=5))
    offer_id = api.offer()
    body = {"counter_offer": {"type": "PARTIAL_REFUND", "amount": "60.00"}}
    assert problem(api.post(f"/offers/{offer_id}/reject", json=body, who=BUYER)) == (
        422, "TOO_MANY_OFFERS")


# Refused uploads -----------------------------------------------------------------------

def stored_files(api) -> list:
    return sorted(p.name for p in (api.folder / "evidence").rglob("*") if p.is_file())


def test_an_upload_refused_by_the_cap_leaves_no_file(api_with):
    api = api_with(policy=DisputePolicy(max_evidence_files=1))
    api.evidence()
    before = stored_files(api)
    refused = api.upload(content=PNG + b"another photo")
    assert problem(refused) == (422, "TOO_MANY_EVIDENCE_FILES")
    assert stored_files(api) == before and len(before) == 1


def test_an_upload_with_a_stale_version_leaves_no_file(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    refused = api.upload(content=PNG + b"late", headers={"If-Match": '"0"'})
    assert refused.status_code == 412
    assert stored_files(api) == []


# A bounded view and timeline -----------------------------------------------------------

@pytest.fixture
def api_with_thirty_long_messages(api_with):
    api = api_with(rate_limit_burst=100)
    for n in range(30):
        assert say(api, f"{n} {LONG}", who=(BUYER, SELLER)[n % 2]).status_code == 201
    return api


def test_the_view_carries_the_latest_messages_and_the_count(api_with_thirty_long_messages):
    api = api_with_thirty_long_messages
    response = api.get("")
    view = response.json()
    assert [m["text"].split()[0] for m in view["messages"]] == [str(n) for n in range(10, 30)]
    assert view["message_count"] == 30
    assert len(response.content) < 20 * len(LONG) + 20_000


def test_every_message_can_be_read_page_by_page(api_with_thirty_long_messages):
    api = api_with_thirty_long_messages
    first = api.ok(api.get(api.view()["messages_url"] + "?limit=25"))
    rest = api.ok(api.get(f"/messages?limit=25&cursor={first['next_cursor']}"))
    texts = [m["text"].split()[0] for m in first["items"] + rest["items"]]
    assert texts == [str(n) for n in range(30)]
    assert (first["total"], rest["next_cursor"]) == (30, None)


def test_the_timeline_comes_in_pages(api_with_thirty_long_messages):
    api = api_with_thirty_long_messages
    api.app.state.timeline.catch_up()
    whole = api.ok(api.get("/timeline?limit=500"))["entries"]
    pages, cursor = [], ""
    while True:
        page = api.ok(api.get(f"/timeline?limit=10{cursor}"))
        assert len(page["entries"]) <= 10
        pages += page["entries"]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert pages == whole and len(whole) > 30


def test_a_cursor_that_is_not_a_number_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.get("/messages?cursor=abc")) == (422, "VALIDATION_FAILED")
    assert problem(api.get("/timeline?cursor=" + "9" * 5000)) == (422, "VALIDATION_FAILED")


# Idempotency records -------------------------------------------------------------------

def test_idempotency_records_stay_small_however_long_the_dispute(api_with):
    api = api_with(rate_limit_burst=100)
    first = say(api, LONG, **{"Idempotency-Key": "k-0"})
    for n in range(1, 40):
        say(api, LONG, who=(BUYER, SELLER)[n % 2], **{"Idempotency-Key": f"k-{n}"})
    with api.app.state.engine.connect() as conn:
        largest = conn.execute(select(func.max(func.length(idempotency_keys.c.body)))).scalar()
    assert largest < 500
    replay = say(api, LONG, **{"Idempotency-Key": "k-0"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert replay.headers["Location"] == first.headers["Location"]


def test_a_record_kept_whole_before_this_change_still_replays(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    first = say(api, **{"Idempotency-Key": "k-old"})
    with api.app.state.engine.begin() as conn:
        conn.execute(update(idempotency_keys).where(idempotency_keys.c.idempotency_key == "k-old")
                     .values(media_type="application/json", body=first.text))
    say(api, "later")
    replay = say(api, **{"Idempotency-Key": "k-old"})
    assert (replay.headers["Idempotent-Replayed"], replay.json()) == ("true", first.json())


# Authentication before the body --------------------------------------------------------

NINE_MB = [b"\x00" * (64 * 1024)] * 144
UPLOAD_HEADERS = {"content-type": "multipart/form-data; boundary=xyz",
                  "content-length": str(9 * MB)}


def test_an_anonymous_upload_is_refused_without_reading_its_body(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    path = f"/v1/disputes/{api.dispute_id}/evidence"
    answer = asyncio.run(call_raw(api.app, "POST", path, UPLOAD_HEADERS, NINE_MB))
    assert (answer.status, json.loads(answer.body)["code"]) == (401, "UNAUTHENTICATED")
    assert answer.chunks_read == 0


def test_a_bad_token_is_refused_without_reading_the_body(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    path = f"/v1/disputes/{api.dispute_id}/messages"
    headers = {"content-type": "application/json", "authorization": "Bearer not-a-token"}
    answer = asyncio.run(call_raw(api.app, "POST", path, headers, [b'{"text": "hi"}']))
    assert (answer.status, answer.chunks_read) == (401, 0)


def test_an_authenticated_upload_is_read(api_with_dispute_awaiting_seller):
    """The counter above counts what it should: with a token, the body is read."""
    api = api_with_dispute_awaiting_seller
    path = f"/v1/disputes/{api.dispute_id}/evidence"
    headers = {**UPLOAD_HEADERS, "authorization": bearer(*SELLER)["Authorization"]}
    answer = asyncio.run(call_raw(api.app, "POST", path, headers, NINE_MB))
    assert answer.status != 401 and answer.chunks_read > 0


# Headers that reach a parser -----------------------------------------------------------

@pytest.mark.parametrize("tag", ['"' + "9" * 5000 + '"', "9" * 5000, 'W/"' + "1" * 19 + '"'])
def test_an_if_match_of_thousands_of_digits_is_a_failed_precondition_not_a_500(
        api_with_dispute_awaiting_seller, tag):
    api = api_with_dispute_awaiting_seller
    assert problem(say(api, **{"If-Match": tag})) == (412, "CONCURRENCY_CONFLICT")


def test_a_content_length_of_thousands_of_digits_is_too_large(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    path = f"/v1/disputes/{api.dispute_id}/messages"
    headers = {"content-type": "application/json", "content-length": "9" * 5000,
               **{k.lower(): v for k, v in bearer(*BUYER).items()}}
    answer = asyncio.run(call_raw(api.app, "POST", path, headers, [b"{}"]))
    assert (answer.status, answer.chunks_read) == (413, 0)


def test_query_ids_longer_than_any_id_are_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.get(f"/v1/disputes?order_id={'O' * 129}", who=OPERATOR)
    assert problem(response) == (422, "VALIDATION_FAILED")
